/* @two-way */
// flush_all() while CPUs run: the kernel queues flush_cpu_slab work on every CPU that
// has a cpu slab or partials, or sheaves in use (5.4: an IPI) and waits for it; the work always runs on
// the CPU that owns the kmem_cache_cpu. Here a request is a flag in that CPU's
// kmem_cache_cpu plus a count in its CPU region, carried out by the owner at its next
// safe point (serviceWork). A CPU that no longer runs cannot carry it out: the
// requester claims the request and does it on that idle CPU's behalf.
// flushReq: 0 none or done, 1 requested, 2 claimed (being carried out). Whoever moves
// it 1 -> 2 does the work and then stores 0; the requester waits for 0.
import { type Step, site } from '../../sched/step.js';
import { add32, cas32, load32, loadAcquire32, store32, storeRelease32, waitWhile } from '../../shm/atomic.js';
import { cpuOnlineWord, cpuWorkWord, type Machine } from '../../shm/machine.js';
import { CACHE_CPU, GLOBAL, NIL } from '../../shm/structs.js';
import { type Cpu, makeCpu } from '../cpu.js';
import { drainLocalPagesWork } from '../pcp.js';
import { flushCpuSlab } from './deactivate.js';
import { cacheById, cpuSlabOff, type KmemCache } from './kmem_cache.js';
import { hasPcsUsed } from './pcs.js';

const S_FLUSH_ALL = site('flush_all');
const S_WORK = site('flush_cpu_slab:work');

/** has_cpu_slab() || has_pcs_used(): racy, as flush_all's condition is. */
const hasCpuSlab = (s: KmemCache, cpu: number): boolean =>
  s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.page] !== NIL ||
  s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.partial] !== NIL ||
  hasPcsUsed(s, cpu);

/** flush_all(s) from a running CPU: every CPU's cpu slab and partial list back to the nodes. */
export function* flushAllFrom(s: KmemCache, cpu: Cpu): Step {
  const m = s.m;
  const posted: number[] = [];
  for (let k = 0; k < m.cfg.cpus; k++) {
    if (k === cpu.id || !hasCpuSlab(s, k)) continue;
    yield* store32(m, cpuSlabOff(s, k) + CACHE_CPU.flushReq, 1, S_FLUSH_ALL);
    yield* add32(m, cpuWorkWord(m, k), 1, S_FLUSH_ALL);
    posted.push(k);
  }
  yield* flushCpuSlab(s, cpu);
  for (const k of posted) {
    const req = cpuSlabOff(s, k) + CACHE_CPU.flushReq;
    for (;;) {
      // flush_work(): once the item is done, everything it did is visible here.
      const state = yield* loadAcquire32(m, req, S_FLUSH_ALL);
      if (state === 0) break;
      if (state === 1 && (yield* load32(m, cpuOnlineWord(m, k), S_FLUSH_ALL)) === 0) {
        // An idle CPU: claim its request and do the work for it.
        if (yield* cas32(m, req, 1, 2, S_FLUSH_ALL)) {
          yield* add32(m, cpuWorkWord(m, k), -1, S_FLUSH_ALL);
          yield* flushCpuSlab(s, makeCpu(m, k));
          yield* storeRelease32(m, req, 0, S_FLUSH_ALL);
        }
        continue;
      }
      // flush_work(): wait, carrying out requests posted to us meanwhile.
      yield* serviceWork(cpu);
      yield* waitWhile(m, req, state, S_FLUSH_ALL, cpuWorkWord(m, cpu.id));
    }
  }
}

/**
 * Carry out the work posted to this CPU (flushes, 5.4 pcp drains). Call at safe points
 * (between operations): one plain read when there is none, the work out of line.
 */
export function* serviceWork(cpu: Cpu): Step {
  if (cpu.m.u32[cpu.workWord] !== 0) yield* carryOutWork(cpu);
}

function* carryOutWork(cpu: Cpu): Step {
  const m = cpu.m;
  yield* drainLocalPagesWork(m, cpu.id);
  for (let id = 0; id < m.u32[GLOBAL.nrCaches]; id++) {
    const req = cpuSlabOff(cacheById(m, id), cpu.id) + CACHE_CPU.flushReq;
    if ((yield* load32(m, req, S_WORK)) !== 1) continue;
    if (!(yield* cas32(m, req, 1, 2, S_WORK))) continue;
    yield* add32(m, cpuWorkWord(m, cpu.id), -1, S_WORK);
    yield* flushCpuSlab(cacheById(m, id), cpu);
    yield* storeRelease32(m, req, 0, S_WORK); // the work is done: flush_work() returns
  }
}

/** A CPU's program starts: from now on it carries out requests itself. */
export function* cpuOnline(m: Machine, cpu: Cpu): Step {
  yield* store32(m, cpuOnlineWord(m, cpu.id), 1, S_WORK);
}

/** A CPU's program ends: refuse new requests, then carry out those already posted. */
export function* cpuOffline(m: Machine, cpu: Cpu): Step {
  yield* store32(m, cpuOnlineWord(m, cpu.id), 0, S_WORK);
  yield* serviceWork(cpu);
}
