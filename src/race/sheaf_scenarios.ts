// Race scenarios of the sheaf profiles (6.18, 7.0): the local trylock against an
// interrupt, the barn between CPUs, frees into slabs whose objects sit in sheaves, and
// shrink against refill. Setups run the free-running code, programs the scheduled code.
// The cache: 1024-byte objects (16 per slab) in sheaves of 12, on both profiles (7.0's
// own capacity for that size is 12 as well).
import type { Cpu } from '../mm/cpu.js';
import { flushCpuSlab as flushCpuSlabNow } from '../mm/slub/deactivate.fast.js';
import { flushCpuSlab } from '../mm/slub/deactivate.js';
import { barnShrink, getBarn } from '../mm/slub/barn.js';
import { kmemCacheDoShrink } from '../mm/slub/shrink.js';
import { CACHE_CPU, CACHE_NODE } from '../shm/structs.js';
import { sheafSize } from '../mm/slub/sheaf.js';
import type { Scenario, ScenarioWorld } from './scenario.js';
import {
  give,
  giveNow,
  handOver,
  interruptedProgram,
  interruptingAllocs,
  nodeCount,
  placeOf,
  take,
  takeNow,
} from './scenarios.js';

const SHEAF_PROFILES = ['6.18', '7.0'] as const;
const SIZE = 1024;
const CAPACITY = 12;
const SHEAF_MEMORY = 512 << 10;

/** The size of CPU `cpu`'s main and spare sheaf, and node 0's barn, for outcome strings. */
function sheaves(w: ScenarioWorld, cpu: number): string {
  const c = w.s.cpu0 + cpu * CACHE_CPU.STRIDE;
  const size = (word: number): string => (w.m.u32[c + word] === 0 ? '-' : String(sheafSize(w.m, w.m.u32[c + word])));
  return `${size(CACHE_CPU.main)}/${size(CACHE_CPU.spare)}`;
}

function barnCounts(w: ScenarioWorld): string {
  const n = w.s.node0;
  return `barn ${w.m.u32[n + CACHE_NODE.nrFull]} full ${w.m.u32[n + CACHE_NODE.nrEmpty]} empty`;
}

const irqUnderSheafLock: Scenario = {
  name: 'irq-under-sheaf-lock',
  doc: 'an interrupt allocates and frees while its CPU holds cpu_sheaves->lock (between taking the top object and shrinking the sheaf)',
  cpus: 2,
  size: SIZE,
  sheafCapacity: CAPACITY,
  irqRate: 1,
  memory: SHEAF_MEMORY,
  profiles: SHEAF_PROFILES,
  mutants: ['sheaf-no-trylock'],
  setup(w) {
    giveNow(w, 0, takeNow(w, 0, 4)); // CPU0's main sheaf holds objects
    w.objs.irqKept = [];
  },
  program: interruptedProgram,
  irq: interruptingAllocs, // strikes in alloc_from_pcs, with the trylock held

  outcome: (w) => `interrupts ${w.objs.irqKept.length}, CPU0 sheaves ${sheaves(w, 0)}`,
};

const barnExchangeVsFlush: Scenario = {
  name: 'barn-exchange-vs-flush',
  doc: 'CPU0 trades a full sheaf at the barn, CPU1 an empty one, while CPU2 flushes its sheaves and shrinks the barn',
  cpus: 3,
  size: SIZE,
  sheafCapacity: CAPACITY,
  memory: SHEAF_MEMORY,
  profiles: SHEAF_PROFILES,
  mutants: ['unlocked-barn', 'split-slab-cas', 'unlocked-partial', 'barn-unlock-relaxed'],
  setup(w) {
    const C = w.s.sheafCapacity;
    // CPU2's objects, freed on CPU0: after 2C + 1 frees CPU0's main holds 1, its spare C
    // and the barn one full sheaf; C - 1 more fill main. CPU1 has an empty main, no spare.
    const objs = takeNow(w, 2, 3 * C + 1);
    giveNow(w, 0, objs.slice(0, 3 * C));
    w.objs.trade = objs.slice(3 * C);
    handOver(w, 0, w.objs.trade);
  },
  *program(w, cpu) {
    const c = w.cpus[cpu];
    if (cpu === 0) {
      yield* give(w, c, w.objs.trade[0]); // main and spare full: barn_replace_full_sheaf() or a new sheaf
    } else if (cpu === 1) {
      const o = yield* take(w, c); // main empty, no spare: barn_replace_empty_sheaf() or a refill
      if (o !== 0) yield* give(w, c, o);
    } else {
      yield* flushCpuSlab(w.s, c); // pcs_flush_all() of its own sheaves
      yield* barnShrink(w.s, c, getBarn(w.s, c));
    }
  },
  outcome: (w) => `${barnCounts(w)}, CPU0 ${sheaves(w, 0)}, CPU1 ${sheaves(w, 1)}, nr_slabs ${nodeCount(w, 'nrSlabs')}`,
};

const remoteFreeVsSheaf: Scenario = {
  name: 'remote-free-vs-sheaf',
  doc: "a CPU of node 1 frees objects into node-0 slabs whose other objects sit in CPU0's sheaf while CPU0 flushes it to them",
  cpus: 2,
  nodes: 2,
  size: SIZE,
  sheafCapacity: CAPACITY,
  memory: 1 << 20,
  profiles: SHEAF_PROFILES,
  mutants: ['split-slab-cas', 'unlocked-partial', 'ignore-frozen'],
  setup(w) {
    // CPU0 (node 0) takes two slabs' worth; a few go back into its main sheaf, a few to
    // CPU1 (node 1), whose frees bypass its sheaves (remote objects) and go to the slabs.
    const objs = takeNow(w, 0, 2 * w.s.objects);
    giveNow(w, 0, objs.slice(0, 6));
    w.objs.remote = objs.slice(6, 10);
    handOver(w, 1, w.objs.remote);
    w.objs.kept = objs.slice(10);
  },
  *program(w, cpu) {
    const c = w.cpus[cpu];
    if (cpu === 0) {
      yield* flushCpuSlab(w.s, c); // its sheaf's objects back to their slabs
      const o = yield* take(w, c);
      if (o !== 0) yield* give(w, c, o);
    } else {
      for (const o of w.objs.remote) yield* give(w, c, o);
    }
  },
  outcome: (w) => `slab: ${placeOf(w, w.objs.remote[0])}, nr_partial ${nodeCount(w, 'nrPartial')}`,
};

const shrinkVsRefill: Scenario = {
  name: 'shrink-vs-refill',
  doc: 'CPU0 refills an empty sheaf from the partial slabs while CPU1 shrinks the cache (barn, empty slabs discarded, the rest sorted)',
  cpus: 2,
  size: SIZE,
  sheafCapacity: CAPACITY,
  memory: SHEAF_MEMORY,
  profiles: SHEAF_PROFILES,
  mutants: ['unlocked-partial', 'split-slab-cas', 'unlocked-barn', 'barn-unlock-relaxed'],
  setup(w) {
    // Partial slabs with a few objects each, and empty ones: CPU1 takes three slabs'
    // worth, gives most back into its sheaves and flushes them to the slabs.
    const n = w.s.objects;
    const objs = takeNow(w, 1, 3 * n);
    const back = objs.filter((_, i) => i % 4 !== 0 || i >= 2 * n);
    giveNow(w, 1, back);
    flushCpuSlabNow(w.s, w.cpus[1]);
    w.objs.kept = objs.filter((o) => !back.includes(o));
  },
  *program(w, cpu) {
    const c: Cpu = w.cpus[cpu];
    if (cpu === 0) {
      const a = yield* take(w, c); // main empty, no spare, barn empty: refill from the partial slabs
      const b = yield* take(w, c);
      if (a !== 0) yield* give(w, c, a);
      if (b !== 0) yield* give(w, c, b);
    } else {
      yield* kmemCacheDoShrink(w.s, c);
    }
  },
  outcome: (w) => `nr_partial ${nodeCount(w, 'nrPartial')}, nr_slabs ${nodeCount(w, 'nrSlabs')}, CPU0 ${sheaves(w, 0)}`,
};

export const SHEAF_SCENARIOS: readonly Scenario[] = [irqUnderSheafLock, barnExchangeVsFlush, remoteFreeVsSheaf, shrinkVsRefill];
