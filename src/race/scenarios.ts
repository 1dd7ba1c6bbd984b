// The catalogue of SLUB race scenarios. Each sets kernel paths against each other on a
// small machine; setups run the free-running code, programs the scheduled code.
import type { Cpu } from '../mm/cpu.js';
import { slabAllocNode as allocNow } from '../mm/slub/alloc.fast.js';
import { slabAllocNode } from '../mm/slub/alloc.sched.js';
import { flushCpuSlab as flushCpuSlabNow } from '../mm/slub/deactivate.fast.js';
import { flushSlab } from '../mm/slub/deactivate.sched.js';
import { kmemCacheFree as freeNow } from '../mm/slub/free.fast.js';
import { kmemCacheFree } from '../mm/slub/free.sched.js';
import { cpuPartial, cpuPartialSlabs, minPartial } from '../mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../mm/slub/objects.js';
import { slabPlaces } from '../mm/slub/walk.js';
import type { Step } from '../sched/step.js';
import { CACHE_NODE } from '../shm/structs.js';
import type { Scenario, ScenarioWorld } from './scenario.js';

// ---- the ledger: every object a program receives or gives up goes through these ----

export function* take(w: ScenarioWorld, cpu: Cpu): Step<number> {
  const obj = yield* slabAllocNode(w.s, cpu, -1);
  if (obj !== 0) receive(w, cpu.id, obj);
  return obj;
}

export function* give(w: ScenarioWorld, cpu: Cpu, obj: number): Step {
  release(w, cpu.id, obj);
  yield* kmemCacheFree(w.s, cpu, obj);
}

function receive(w: ScenarioWorld, cpu: number, obj: number): void {
  const holder = w.held.get(obj);
  if (holder !== 0) w.violations.push(`double issue: 0x${obj.toString(16)} handed to CPU${cpu} while CPU${holder - 1} holds it`);
  w.held.set(obj, cpu + 1);
}

function release(w: ScenarioWorld, cpu: number, obj: number): void {
  if (w.held.get(obj) === 0) w.violations.push(`bad free: 0x${obj.toString(16)} freed by CPU${cpu} but held by nobody`);
  w.held.set(obj, 0);
}

/** Setup: allocate n objects on `cpu` (free-running). */
export function takeNow(w: ScenarioWorld, cpu: number, n: number): number[] {
  return Array.from({ length: n }, () => {
    const obj = allocNow(w.s, w.cpus[cpu], -1);
    receive(w, cpu, obj);
    return obj;
  });
}

/** Setup: free objects from `cpu` (free-running). */
export function giveNow(w: ScenarioWorld, cpu: number, objs: number[]): void {
  for (const obj of objs) {
    release(w, cpu, obj);
    freeNow(w.s, w.cpus[cpu], obj);
  }
}

/** Setup: hand objects over to another holder without freeing them. */
export function handOver(w: ScenarioWorld, to: number, objs: number[]): void {
  for (const obj of objs) w.held.set(obj, to + 1);
}

/** Setup: `slabs` full slabs allocated on `cpu`, none of them its cpu slab (all unfrozen, on no list). */
function fullSlabs(w: ScenarioWorld, cpu: number, slabs: number): number[][] {
  const out = Array.from({ length: slabs }, () => takeNow(w, cpu, w.s.objects));
  // One more allocation moves the cpu slab on, leaving the last full slab unfrozen too.
  w.objs.spare = [...(w.objs.spare ?? []), ...takeNow(w, cpu, 1)];
  return out;
}

/** Where the slab holding `obj` is now, for outcome strings. */
export function placeOf(w: ScenarioWorld, obj: number): string {
  const p = slabPlaces(w.s).get(virtToHeadPfn(w.m, obj));
  if (p === undefined) return 'discarded';
  return p.kind === 'cpu' || p.kind === 'cpu_partial' ? `${p.kind} of CPU${p.cpu}` : p.kind;
}

export const nodeCount = (w: ScenarioWorld, field: 'nrSlabs' | 'nrPartial'): number => w.m.u32[w.s.node0 + CACHE_NODE[field]];

/** Every program ends by freeing what setup set aside for it and what it still holds. */
export function* freeHeld(w: ScenarioWorld, cpu: Cpu): Step {
  for (const [obj, holder] of [...w.held.entries()]) if (holder === cpu.id + 1) yield* give(w, cpu, obj);
}

/**
 * The program of the interrupt scenarios: CPU0 allocates twice with interrupts on, then
 * frees both; CPU1 (no interrupts) the same, alongside.
 */
export function* interruptedProgram(w: ScenarioWorld, cpu: number): Step {
  const c = w.cpus[cpu];
  if (cpu === 1) c.irqRate = 0;
  const a = yield* take(w, c);
  const b = yield* take(w, c);
  c.irqRate = 0;
  yield* give(w, c, a);
  yield* give(w, c, b);
  yield* freeHeld(w, c);
}

/** Their interrupt: once per run, allocate two objects, keep the second, free the first. */
export function* interruptingAllocs(w: ScenarioWorld, cpu: Cpu): Step {
  if (w.objs.irqKept.length > 0) return; // one interrupt per run is enough
  const x = yield* take(w, cpu);
  const y = yield* take(w, cpu);
  w.objs.irqKept.push(y);
  yield* give(w, cpu, x);
}

// ---- the scenarios ----

const remoteFreeVsDeactivate: Scenario = {
  name: 'remote-free-vs-deactivate',
  doc: 'remote frees into a frozen cpu slab while its owner deactivates it (__slab_free vs deactivate_slab)',
  cpus: 2,
  size: 256,
  setup(w) {
    const objs = takeNow(w, 0, 6);
    giveNow(w, 0, objs.slice(4)); // some free objects on CPU0's freelist
    w.objs.remote = objs.slice(0, 2);
    handOver(w, 1, w.objs.remote);
    w.objs.kept = objs.slice(2, 4);
  },
  *program(w, cpu) {
    if (cpu === 0) yield* flushSlab(w.s, w.cpus[0]);
    else for (const o of w.objs.remote) yield* give(w, w.cpus[1], o);
  },
  outcome: (w) => `slab: ${placeOf(w, w.objs.kept[0])}`,
};

const drainVsRemoteFree: Scenario = {
  name: 'drain-vs-remote-free',
  doc: 'a cpu-partial drain (unfreeze_partials) racing a remote free into one of the drained slabs',
  cpus: 2,
  size: 1024,
  setup(w, profile) {
    // CPU0's partial list is filled to its limit by first frees into full slabs; the
    // next such free (the trigger) drains it. 5.4 drains when pobjects > cpu_partial
    // (one object per push), 6.6 when slabs >= cpu_partial_slabs.
    const pushes = profile === '5.4' ? cpuPartial(w.s) + 1 : cpuPartialSlabs(w.s);
    const slabs = fullSlabs(w, 0, pushes + 1);
    for (let k = 0; k < pushes; k++) giveNow(w, 0, [slabs[k][0]]);
    w.objs.trigger = [slabs[pushes][0]];
    // The chain is LIFO: the last slab pushed is the first one the drain unfreezes.
    w.objs.remote = [slabs[pushes - 1][1]];
    handOver(w, 1, w.objs.remote);
  },
  *program(w, cpu) {
    if (cpu === 0) yield* give(w, w.cpus[0], w.objs.trigger[0]);
    else yield* give(w, w.cpus[1], w.objs.remote[0]);
  },
  outcome: (w) => `slab: ${placeOf(w, w.objs.remote[0])}`,
};

const lastObjectsNearMinPartial: Scenario = {
  name: 'last-objects-near-min-partial',
  doc: 'two CPUs free the last objects of two adjacent node-partial slabs at once (remove_partial, discard)',
  cpus: 2,
  size: 1024,
  setup(w) {
    // min_partial + 2 node-partial slabs with one object each in use.
    const slabs = fullSlabs(w, 0, minPartial(w.s) + 2);
    for (const objs of slabs) giveNow(w, 1, objs.slice(1));
    for (const c of w.cpus) flushCpuSlabNow(w.s, c); // CPU1's partials go to the node list
    w.objs.last = [slabs[0][0], slabs[1][0]];
    handOver(w, 1, [slabs[1][0]]);
  },
  *program(w, cpu) {
    yield* give(w, w.cpus[cpu], w.objs.last[cpu]);
  },
  outcome: (w) => `nr_partial ${nodeCount(w, 'nrPartial')}, nr_slabs ${nodeCount(w, 'nrSlabs')}`,
};

const irqBetweenTidAndCas: Scenario = {
  name: 'irq-between-tid-and-cas',
  doc: 'an interrupt allocates two objects and frees the first between the fast path reading tid and its CAS',
  cpus: 2,
  size: 64,
  irqRate: 1,
  setup(w) {
    giveNow(w, 0, takeNow(w, 0, 4)); // objects on CPU0's freelist: X, Y, Z, ...
    w.objs.irqKept = [];
  },
  program: interruptedProgram,
  irq: interruptingAllocs, // cpu slab: the head is X again, but its next pointer has changed
  outcome: (w) => `interrupts ${w.objs.irqKept.length}`,
};

const remoteFreeIntoFullCpuSlab: Scenario = {
  name: 'remote-free-into-full-cpu-slab',
  doc: "a remote free into another CPU's fully allocated cpu slab (frozen, freelist NULL) while its owner refills",
  cpus: 2,
  size: 512,
  setup(w) {
    const objs = takeNow(w, 0, w.s.objects); // CPU0's cpu slab, every object taken
    w.objs.remote = [objs[0]];
    handOver(w, 1, w.objs.remote);
  },
  *program(w, cpu) {
    const c = w.cpus[cpu];
    if (cpu === 1) yield* give(w, c, w.objs.remote[0]);
    const o = yield* take(w, c);
    if (o !== 0) yield* give(w, c, o);
    yield* freeHeld(w, c);
  },
  outcome: (w) => `slab: ${placeOf(w, w.objs.remote[0])}`,
};

const concurrentRemoteFrees: Scenario = {
  name: 'concurrent-remote-frees',
  doc: "two remote frees into one frozen cpu slab while its owner takes the slab's freelist (get_freelist)",
  cpus: 3,
  size: 128,
  setup(w) {
    const objs = takeNow(w, 0, w.s.objects - 1); // one object left on CPU0's freelist
    w.objs.r1 = [objs[0]];
    w.objs.r2 = [objs[1]];
    handOver(w, 1, w.objs.r1);
    handOver(w, 2, w.objs.r2);
  },
  *program(w, cpu) {
    const c = w.cpus[cpu];
    if (cpu === 0) {
      const a = yield* take(w, c); // the last one on the cpu freelist
      const b = yield* take(w, c); // slow path: get_freelist takes the remote frees
      if (a) yield* give(w, c, a);
      if (b) yield* give(w, c, b);
    } else {
      yield* give(w, c, (cpu === 1 ? w.objs.r1 : w.objs.r2)[0]);
    }
  },
  outcome: (w) => `slab: ${placeOf(w, w.objs.r1[0])}`,
};

/** The cpu-slab scenarios: 5.4, 6.6, and 6.18 (whose 'race' cache has no sheaves: 6.6's paths). */
const CPU_SLAB_PROFILES = ['5.4', '6.6', '6.18'] as const;

export const SCENARIOS: readonly Scenario[] = [
  remoteFreeVsDeactivate,
  drainVsRemoteFree,
  lastObjectsNearMinPartial,
  irqBetweenTidAndCas,
  remoteFreeIntoFullCpuSlab,
  concurrentRemoteFrees,
].map((sc) => ({ ...sc, profiles: CPU_SLAB_PROFILES }));
