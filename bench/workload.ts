// The workloads' own cost: threadtest's loop run in this thread (no workers), with its
// ledger and every check, on one 64-byte cache and on kmalloc with the default sizes of
// `run` and of `compare`. Reported per operation (an alloc or a free) and, in the summary, as a ratio to
// SLUB's fast path per operation (its alloc+free row halved) in the same run.
import { makeCpu } from '../src/mm/cpu.js';
import { kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { Rng } from '../src/rng.js';
import { create } from '../src/shm/machine.js';
import { createLedger, heldCount } from '../src/workload/ledger.js';
import { newCounts, type ObjCtx, threadtest } from '../src/workload/objects.fast.js';
import { bindTarget } from '../src/workload/slab_ops.fast.js';
import { type BenchCase, opaque } from './harness.js';

/** Operations per call of a case: enough that threadtest's loop, not the call, is measured. */
const OPS = 4096;

export const THREADTEST_CACHE = 'threadtest in-thread: one 64-byte cache, batch 16';
export const THREADTEST_KMALLOC = 'threadtest in-thread: kmalloc 16-256 bytes, batch 64';
export const THREADTEST_KMALLOC_128 = 'threadtest in-thread: kmalloc 16-128 bytes, batch 64';

/** One CPU's threadtest context on a fresh 1-CPU machine: a 64-byte cache, or kmalloc sizes 16..maxSize. */
function context(cache: boolean, maxSize: number): ObjCtx {
  const m = create({ cpus: 1, memory: 16 << 20 });
  slubInit(m);
  const cacheId = cache ? kmemCacheCreate(m, 'bench-tt', maxSize, { flags: ['no_merge'] }) : -1;
  const target = { allocator: 'slub' as const, pool: 0, cacheId, minSize: cache ? maxSize : 16, maxSize };
  return {
    cpu: makeCpu(m, 0, 1),
    rng: new Rng(1, 0),
    ledger: new Uint8Array(createLedger(m)),
    target: bindTarget(m, target),
    counts: newCounts(0),
    flushEvery: 0,
  };
}

function threadtestCase(name: string, cache: boolean, maxSize: number, batch: number): BenchCase & { check: () => void } {
  const x = context(cache, maxSize);
  const at = opaque(x); // the context reaches threadtest as a value, as on a worker
  return {
    name,
    unit: 'operation',
    batch: OPS,
    // Each call continues the same run: OPS more operations, everything freed at its end.
    fn: () => void threadtest(at.v, at.v.counts.ops + OPS, batch),
    check: () => {
      const c = x.counts;
      if (c.doubleIssue || c.badFree || c.failed || c.allocs !== c.frees || heldCount(x.ledger) !== 0) {
        throw new Error(`${name}: the run is not clean: ${JSON.stringify(c)}`);
      }
    },
  };
}

/**
 * threadtest's loop in this thread: one 64-byte cache (the fast path), kmalloc 16-256 with
 * batches of 64 (`run`'s defaults: kmalloc-192 and -256 then overflow their cpu slabs, so
 * some operations take the slow paths) and kmalloc 16-128 (`compare`'s sizes).
 */
export const threadtestCases = (): Array<BenchCase & { check: () => void }> => [
  threadtestCase(THREADTEST_CACHE, true, 64, 16),
  threadtestCase(THREADTEST_KMALLOC, false, 256, 64),
  threadtestCase(THREADTEST_KMALLOC_128, false, 128, 64),
];
