/* @two-way */
// Workloads over the pool models: random allocations and frees with an ownership ledger
// (ledger.ts), one program per CPU, the same code in free-running and scheduled form.
// Randomness comes from the seeded Rng only, so a replay reproduces data and interleaving.
import type { Rng } from '../../rng.js';
import { type Step, site } from '../../sched/step.js';
import { store32 } from '../../shm/atomic.js';
import { addrWord, type Machine } from '../../shm/machine.js';
import { memGet, memGet0, memPut } from './glusterfs.js';
import { type HaPool, poolAlloc, poolFree, poolGc } from './haproxy.js';
import type { Ledger } from './ledger.js';
import { mpCalloc, mpFree, mpMalloc, mpMaxSmall, mpResetPool } from './mp.js';
import { ngxCleanupId } from './ngx_cleanup.js';
import { ngxCleanupData, ngxPalloc, ngxPcalloc, ngxPfree, ngxPnalloc, ngxPoolCleanupAdd, ngxResetPool } from './nginx.js';

const S_USE = site('workload:use');

export interface PoolParams {
  /** operations for this CPU */
  ops: number;
  /** most allocations one CPU holds at once */
  maxHeld: number;
}

export interface PoolCounts {
  cpu: number;
  ops: number;
  allocs: number;
  frees: number;
  /** allocations that returned 0 (limit or memory) */
  failed: number;
  /** resets (nginx, mp) and trims (haproxy) */
  other: number;
}

const counts0 = (cpu: number): PoolCounts => ({ cpu, ops: 0, allocs: 0, frees: 0, failed: 0, other: 0 });

/** Remove and return a random element. */
function takeRandom<T>(xs: T[], rng: Rng): T {
  const i = rng.below(xs.length);
  const x = xs[i];
  xs[i] = xs[xs.length - 1];
  xs.pop();
  return x;
}

/**
 * HAProxy: random pool_alloc / pool_free (and now and then pool_gc) on `cpu`; ends
 * holding nothing.
 */
export function* haproxyWorkload(p: HaPool, cpu: number, q: PoolParams, rng: Rng, ledger: Ledger): Step<PoolCounts> {
  const c = counts0(cpu);
  const held: number[] = [];
  while (c.ops < q.ops) {
    c.ops++;
    const r = rng.below(64);
    if (r === 0) {
      yield* poolGc(p, cpu);
      c.other++;
    } else if (held.length > 0 && (held.length >= q.maxHeld || r < 32)) {
      const a = takeRandom(held, rng);
      ledger.give(a, cpu);
      yield* poolFree(p, cpu, a);
      c.frees++;
    } else {
      const a = yield* poolAlloc(p, cpu);
      if (a === 0) {
        c.failed++;
        continue;
      }
      if (ledger.take(a, p.size, cpu)) held.push(a);
      c.allocs++;
    }
  }
  while (held.length > 0) {
    const a = held.pop() as number;
    ledger.give(a, cpu);
    yield* poolFree(p, cpu, a);
    c.frees++;
  }
  return c;
}

/**
 * HAProxy, the ABA pattern: `rounds` times pop a, pop b, push a, push b. With two or
 * more CPUs on the plain shared stack, some interleavings hand a block out twice.
 */
export function* haproxyAbaWorkload(p: HaPool, cpu: number, rounds: number, ledger: Ledger): Step<PoolCounts> {
  const c = counts0(cpu);
  for (let r = 0; r < rounds; r++) {
    const a = yield* poolAlloc(p, cpu);
    const b = yield* poolAlloc(p, cpu);
    c.allocs += 2;
    const aMine = a !== 0 && ledger.take(a, p.size, cpu);
    const bMine = b !== 0 && ledger.take(b, p.size, cpu);
    if (aMine) ledger.give(a, cpu);
    if (a !== 0) yield* poolFree(p, cpu, a);
    if (bMine) ledger.give(b, cpu);
    if (b !== 0) yield* poolFree(p, cpu, b);
    c.frees += 2;
    c.ops++;
  }
  return c;
}

/** GlusterFS: random mem_get / mem_get0 / mem_put on `pool`; ends holding nothing. */
export function* glusterfsWorkload(
  m: Machine,
  pool: number,
  cpu: number,
  q: PoolParams,
  rng: Rng,
  ledger: Ledger,
  objSize: number,
): Step<PoolCounts> {
  const c = counts0(cpu);
  const held: number[] = [];
  while (c.ops < q.ops) {
    c.ops++;
    if (held.length > 0 && (held.length >= q.maxHeld || rng.below(2) === 0)) {
      const a = takeRandom(held, rng);
      ledger.give(a, cpu);
      yield* memPut(m, a, cpu);
      c.frees++;
    } else {
      const a = rng.below(4) === 0 ? yield* memGet0(m, pool, cpu) : yield* memGet(m, pool, cpu);
      if (a === 0) {
        c.failed++;
        continue;
      }
      if (ledger.take(a, objSize, cpu)) held.push(a);
      c.allocs++;
    }
  }
  while (held.length > 0) {
    const a = held.pop() as number;
    ledger.give(a, cpu);
    yield* memPut(m, a, cpu);
    c.frees++;
  }
  return c;
}

/**
 * nginx: on `cpu`'s own pool, random ngx_palloc / ngx_pnalloc / ngx_pcalloc of small
 * sizes, large allocations and ngx_pfree of them, cleanup records
 * (ngx_pool_cleanup_file) and now and then ngx_reset_pool. Leaves the pool alive.
 */
export function* nginxWorkload(
  m: Machine,
  pool: number,
  cpu: number,
  q: PoolParams,
  rng: Rng,
  ledger: Ledger,
  max: number,
): Step<PoolCounts> {
  const c = counts0(cpu);
  const large: number[] = [];
  const fileHandler = ngxCleanupId('ngx_pool_cleanup_file');
  while (c.ops < q.ops) {
    c.ops++;
    const r = rng.below(100);
    if (r < 2) {
      ledger.dropAll(cpu); // before: other CPUs may get the released pages while it runs
      yield* ngxResetPool(m, pool);
      large.length = 0;
      c.other++;
    } else if (r < 6) {
      const cl = yield* ngxPoolCleanupAdd(m, pool, 8, fileHandler, cpu);
      if (cl === 0) c.failed++;
      else {
        yield* store32(m, addrWord(m, ngxCleanupData(m, cl)), 100 + c.ops, S_USE); // ngx_pool_cleanup_file_t.fd
      }
    } else if (r < 20 && large.length > 0) {
      const a = takeRandom(large, rng);
      ledger.give(a, cpu);
      yield* ngxPfree(m, pool, a);
      c.frees++;
    } else if (r < 30 && large.length < q.maxHeld) {
      const size = max + 1 + rng.below(3 * m.cfg.pageSize);
      const a = yield* ngxPalloc(m, pool, size, cpu);
      if (a === 0) c.failed++;
      else {
        if (ledger.take(a, size, cpu)) large.push(a);
        c.allocs++;
      }
    } else {
      const size = 1 + rng.below(rng.below(8) === 0 ? max : 64);
      const kind = rng.below(3);
      const a =
        kind === 0
          ? yield* ngxPalloc(m, pool, size, cpu)
          : kind === 1
            ? yield* ngxPnalloc(m, pool, size, cpu)
            : yield* ngxPcalloc(m, pool, size, cpu);
      if (a === 0) c.failed++;
      else {
        ledger.take(a, size, cpu);
        c.allocs++;
      }
    }
  }
  return c;
}

/**
 * mp: on `cpu`'s own pool, random mp_malloc / mp_calloc (small and large) and mp_free,
 * now and then mp_reset_pool. Frees everything it holds at the end, so every block is
 * rewound; leaves the pool alive.
 */
export function* mpWorkload(m: Machine, pool: number, cpu: number, q: PoolParams, rng: Rng, ledger: Ledger): Step<PoolCounts> {
  const c = counts0(cpu);
  const held: number[] = [];
  const maxSmall = mpMaxSmall(m);
  while (c.ops < q.ops) {
    c.ops++;
    const r = rng.below(100);
    if (r < 2) {
      ledger.dropAll(cpu);
      yield* mpResetPool(m, pool);
      held.length = 0;
      c.other++;
    } else if (held.length > 0 && (held.length >= q.maxHeld || r < 50)) {
      const a = takeRandom(held, rng);
      ledger.give(a, cpu);
      yield* mpFree(m, pool, a);
      c.frees++;
    } else {
      const s = rng.below(10);
      const size =
        s === 0 ? maxSmall + 1 + rng.below(2 * m.cfg.pageSize) : s === 1 ? 1 + rng.below(maxSmall) : 1 + rng.below(200);
      const a = rng.below(4) === 0 ? yield* mpCalloc(m, pool, size, cpu) : yield* mpMalloc(m, pool, size, cpu);
      if (a === 0) {
        c.failed++;
        continue;
      }
      if (ledger.take(a, size, cpu)) held.push(a);
      c.allocs++;
    }
  }
  while (held.length > 0) {
    const a = held.pop() as number;
    ledger.give(a, cpu);
    yield* mpFree(m, pool, a);
    c.frees++;
  }
  return c;
}
