// The ownership ledger catches what it exists for: an allocator that hands out an object
// someone holds. Injected through the workloads' own take/give and reported by the run's
// end-of-run checks.
import { describe, expect, it } from 'vitest';
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { doSlabFree } from '../src/mm/slub/free.fast.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import { Rng } from '../src/rng.js';
import { cpuNode } from '../src/shm/machine.js';
import { newCounts, type ObjCtx, give, take } from '../src/workload/objects.fast.js';
import { finishRun, prepareRun, type RunOptions } from '../src/workload/run.js';
import { bindTarget } from '../src/workload/slab_ops.fast.js';

describe('the ledger', () => {
  it('counts an object handed out while held as a double issue, and the run fails its checks', () => {
    const opts: RunOptions = { workload: 'threadtest', machine: { cpus: 1 }, ops: 100, seed: 1, cache: 'held', maxSize: 64 };
    const prep = prepareRun(opts);
    const { m } = prep;
    const cpu = makeCpu(m, 0);
    const x: ObjCtx = {
      cpu,
      rng: new Rng(1, 0),
      ledger: prep.ledger,
      target: bindTarget(m, prep.task.target),
      counts: newCounts(0),
      flushEvery: 0,
    };
    const held = take(x);
    // The injected bug: the allocator gets `held` back although its holder never freed it.
    const s = cacheById(m, prep.task.target.cacheId);
    slabAllocNode(s, cpu, -1); // (the cpu freelist head is not `held`: do_slab_free's precondition)
    doSlabFree(s, cpu, virtToHeadPfn(m, held), held, held, 1);
    const again = take(x);
    expect(again).toBe(held); // LIFO: the allocator hands it out a second time
    expect(x.counts.doubleIssue).toBe(1);
    give(x, again);
    const c = x.counts;
    const r = finishRun(prep, opts, [{ ...c, node: cpuNode(m, 0), elapsedMs: 1 }], 1);
    expect(r.checks.ok).toBe(false);
    expect(r.checks.double_issue).toBe(1);
    expect(r.checks.messages).toContain('ledger: 1 objects were handed to two holders at once');
  });
});
