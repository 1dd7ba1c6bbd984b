/* @two-way */
// connections on a region pool: each connection gets its own pool (nginx's
// ngx_create_pool per connection, or the mp_* pool), carves its objects from it, and
// destroys the pool when it closes: one release for everything.
import { mpCreatePool, mpDestroyPool, mpMalloc } from '../mm/pools/mp.js';
import { ngxCreatePool, ngxDestroyPool, ngxPalloc } from '../mm/pools/nginx.js';
import type { Step } from '../sched/step.js';
import { publishOps, stopRequested } from '../shm/machine.js';
import { stamp, unstamp } from './ledger.js';
import type { ObjCounts, ObjCtx } from './objects.js';
import { drawSize } from './slab_ops.js';

/** Bytes of each connection's first pool block (nginx's connection_pool_size default is 256; a page suits both). */
const POOL_SIZE = 4096;

export function* regionConnections(x: ObjCtx, ops: number, minObjs: number, maxObjs: number): Step<ObjCounts> {
  const { m } = x.cpu;
  const nginx = x.target.allocator === 'nginx';
  const held: number[] = [];
  while (x.counts.ops < ops && !stopRequested(m)) {
    const n = Math.min(minObjs + x.rng.below(maxObjs - minObjs + 1), (ops - x.counts.ops) >> 1);
    if (n === 0) break;
    const pool = nginx ? yield* ngxCreatePool(m, POOL_SIZE, x.cpu.id) : yield* mpCreatePool(m, POOL_SIZE, x.cpu.id);
    if (pool === 0) {
      x.counts.failed++;
      break;
    }
    for (let i = 0; i < n; i++) {
      const size = drawSize(x.target, x.rng);
      const obj = nginx ? yield* ngxPalloc(m, pool, size, x.cpu.id) : yield* mpMalloc(m, pool, size, x.cpu.id);
      if (obj === 0) {
        x.counts.failed++;
        continue;
      }
      if (stamp(x.ledger, obj, x.cpu.id)) x.counts.doubleIssue++;
      held.push(obj);
      x.counts.allocs++;
      x.counts.ops++;
    }
    // The connection closes: every object goes at once with its pool.
    for (const obj of held) if (unstamp(x.ledger, obj)) x.counts.badFree++;
    x.counts.frees += held.length;
    x.counts.ops += held.length;
    held.length = 0;
    if (nginx) yield* ngxDestroyPool(m, pool);
    else yield* mpDestroyPool(m, pool);
    publishOps(m, x.cpu.id, x.counts.ops);
  }
  return x.counts;
}
