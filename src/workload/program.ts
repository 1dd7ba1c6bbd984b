/* @two-way */
// One CPU's whole program for a task, shared by the worker (free form) and the
// scheduler (generator form): what runs is chosen here, in one place.
import { makeCpu } from '../mm/cpu.js';
import { cpuOffline, cpuOnline } from '../mm/slub/flush.js';
import { Rng } from '../rng.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';
import { connections, larson, newCounts, type ObjCounts, threadtest, xmalloc } from './objects.js';
import { mstress } from './mstress.js';
import { regionConnections } from './regions.js';
import { cacheScratch, cacheThrash } from './sharing.js';
import { CONNECTION_OBJECTS, TRANSFER_SLOTS } from './structs.js';
import { type CpuCounts, pagesWorkload } from './pages.js';
import { pairQuota } from './quota.js';
import { bindTarget, irqAllocFree } from './slab_ops.js';
import type { CpuTask } from './task.js';

/** mstress's uneven load: CPU i's share of `total` rounds is proportional to i + 1. */
function unevenShare(total: number, cpus: number, cpu: number): number {
  const weights = (cpus * (cpus + 1)) / 2;
  return Math.floor((total * (cpu + 1)) / weights);
}

export function* cpuProgram(m: Machine, cpuId: number, task: CpuTask, ledger: Uint8Array): Step<CpuCounts | ObjCounts> {
  const n = m.cfg.cpus;
  const quota = pairQuota(task.ops, n, cpuId);
  const rng = new Rng(task.seed, cpuId);
  const cpu = makeCpu(m, cpuId, task.seed, task.irqRate);
  yield* cpuOnline(m, cpu);
  if (task.workload === 'pages') {
    const pageCounts = yield* pagesWorkload(m, cpuId, { ...task.pages, ops: quota }, rng);
    yield* cpuOffline(m, cpu);
    return pageCounts;
  }
  const x = { cpu, rng, ledger, target: bindTarget(m, task.target), counts: newCounts(cpuId), flushEvery: task.flushEvery };
  cpu.irq = (c) => irqAllocFree(c, x.target, x.counts);
  let counts: ObjCounts;
  switch (task.workload) {
    case 'threadtest':
      counts = yield* threadtest(x, quota, task.batch);
      break;
    case 'rptest':
    case 'xmalloc': {
      // rptest is xmalloc's producer/consumer ring with sizes dropping off linearly.
      if (task.workload === 'rptest') x.target = bindTarget(m, { ...task.target, linear: true });
      const prev = (cpuId + n - 1) % n;
      const next = (cpuId + 1) % n;
      counts = yield* xmalloc(
        x,
        task.harness.rings[cpuId],
        task.harness.rings[next],
        quota / 2,
        pairQuota(task.ops, n, prev) / 2,
        task.batch,
      );
      break;
    }
    case 'larson': {
      const rounds = Math.max(0, (quota - 2 * task.slots) >> 1);
      counts = yield* larson(x, task.harness.arrays, task.slots, rounds, task.epochs, task.harness.barrier, task.timed);
      break;
    }
    case 'cache-thrash':
      counts = yield* cacheThrash(x, quota, task.writes);
      break;
    case 'cache-scratch':
      counts = yield* cacheScratch(x, quota, task.writes, task.harness.slots, task.harness.barrier);
      break;
    case 'mstress':
      counts = yield* mstress(
        x,
        unevenShare(task.ops, n, cpuId),
        task.slots,
        task.harness.slots,
        TRANSFER_SLOTS,
        task.harness.barrier,
      );
      break;
    case 'connections':
      counts =
        task.target.allocator === 'nginx' || task.target.allocator === 'mp'
          ? yield* regionConnections(x, quota, CONNECTION_OBJECTS[0], CONNECTION_OBJECTS[1])
          : yield* connections(x, quota, CONNECTION_OBJECTS[0], CONNECTION_OBJECTS[1]);
      break;
  }
  yield* cpuOffline(m, cpu);
  return counts;
}
