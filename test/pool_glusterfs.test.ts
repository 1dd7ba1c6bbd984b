import { describe, expect, it } from 'vitest';
import {
  ctxPools,
  gfCtxCreate,
  isMember,
  memGet,
  memGet0,
  memPoolDestroy,
  memPoolNewFn,
  memPoolStats,
  memPut,
  validate,
} from '../src/mm/pools/glusterfs.fast.js';
import * as sched from '../src/mm/pools/glusterfs.js';
import { Ledger } from '../src/mm/pools/ledger.js';
import { GF_CHUNK, GF_MEM_POOL_PAD_BOUNDARY, GF_POOL, gfPtr2Chunk } from '../src/mm/pools/structs.js';
import { glusterfsWorkload } from '../src/mm/pools/workload.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { addrByte, addrWord, create, type Machine } from '../src/shm/machine.js';
import { digest, expectSlabError, takeAllPages } from './helpers.js';

const PAGE = 4096;
const machine = (cpus = 2): Machine => create({ cpus, memory: 1 << 20 });
function setup(size = 40, count = 8, cpus = 2) {
  const m = machine(cpus);
  const ctx = gfCtxCreate(m, 0);
  const pool = memPoolNewFn(m, ctx, size, count, 'inode', 'xlator', 0);
  expect(pool).not.toBe(0);
  return { m, ctx, pool };
}
const header = (m: Machine, ptr: number, field: number): number => m.u32[addrWord(m, gfPtr2Chunk(ptr)) + field];
describe('glusterfs mem_pool: mem_pool_new_fn', () => {
  it('takes one region of count padded chunks, all free, and registers on the ctx', () => {
    const { m, ctx, pool } = setup(40, 8);
    const s = memPoolStats(m, pool);
    expect(GF_MEM_POOL_PAD_BOUNDARY).toBe(16);
    expect(s).toMatchObject({
      name: 'xlator:inode',
      count: 8,
      hot_count: 0,
      cold_count: 8,
      real_sizeof_type: 40,
      padded_sizeof_type: 56,
      alloc_count: 0,
      pool_misses: 0,
      max_alloc: 0,
      curr_stdalloc: 0,
      max_stdalloc: 0,
      double_free: 0,
    });
    expect(s.pool_end - s.pool).toBe(8 * 56);
    expect(ctxPools(m, ctx)).toEqual([pool]);
    expect(validate(m, pool).messages).toEqual([]);
    // Chunks are linked in address order: the first mem_get returns chunk 0's object.
    expect(memGet(m, pool, 0)).toBe(s.pool + GF_MEM_POOL_PAD_BOUNDARY);
  });

  it('pads a size that is not a word multiple to whole words', () => {
    const { m, pool } = setup(5, 3);
    expect(memPoolStats(m, pool)).toMatchObject({ real_sizeof_type: 5, padded_sizeof_type: 8 + 16 });
  });

  it('size 0 or count 0 is an invalid argument', () => {
    const m = machine();
    expectSlabError(() => memPoolNewFn(m, 0, 0, 4, 'x', 'y', 0), 'EINVAL', /invalid argument/);
    expectSlabError(() => memPoolNewFn(m, 0, 16, 0, 'x', 'y', 0), 'EINVAL', /invalid argument/);
    expectSlabError(() => memPoolNewFn(m, 12345, 16, 4, 'x', 'y', 0), 'EINVAL', /ctx/);
  });

  it('returns 0 when the region cannot be had, and keeps nothing', () => {
    const m = machine();
    const free0 = freePageCount(m);
    expect(memPoolNewFn(m, 0, PAGE, 1 << 12, 'huge', 'x', 0)).toBe(0); // larger than any block
    expect(memPoolNewFn(m, 0, PAGE, 200, 'big', 'x', 0)).toBe(0); // 256 pages block: the head page took one
    expect(freePageCount(m)).toBe(free0);
  });
});

describe('glusterfs mem_pool: mem_get', () => {
  it('takes the first chunk off the list: counters, in_use, owning pool in the header', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    const b = memGet(m, pool, 1);
    expect(b - a).toBe(56);
    expect(header(m, a, GF_CHUNK.in_use)).toBe(1);
    expect(header(m, a, GF_CHUNK.pool)).toBe(pool);
    expect(memPoolStats(m, pool)).toMatchObject({ alloc_count: 2, hot_count: 2, cold_count: 6, max_alloc: 2 });
    expect(isMember(m, pool, a)).toBe(1);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('mem_get0 zeroes the object', () => {
    const { m, pool } = setup(40, 2);
    const a = memGet(m, pool, 0);
    m.u8.fill(0xab, addrByte(m, a), addrByte(m, a) + 40);
    memPut(m, a, 0);
    const b = memGet0(m, pool, 0);
    expect(b).toBe(a);
    expect([...m.u8.subarray(addrByte(m, b), addrByte(m, b) + 40)].every((x) => x === 0)).toBe(true);
  });

  it('when the region is exhausted, serves from the general heap: pool_misses, curr_stdalloc, max_stdalloc', () => {
    const { m, pool } = setup(40, 2);
    const free0 = freePageCount(m);
    memGet(m, pool, 0);
    memGet(m, pool, 0);
    const h = memGet(m, pool, 1);
    expect(isMember(m, pool, h)).toBe(0);
    expect(gfPtr2Chunk(h) % PAGE).toBe(0);
    expect(freePageCount(m)).toBe(free0 - 1);
    expect(header(m, h, GF_CHUNK.pool)).toBe(pool);
    expect(header(m, h, GF_CHUNK.in_use)).toBe(0);
    expect(memPoolStats(m, pool)).toMatchObject({
      alloc_count: 3,
      hot_count: 2,
      cold_count: 0,
      pool_misses: 1,
      curr_stdalloc: 1,
      max_stdalloc: 1,
    });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('returns 0 when the general heap is out of memory too (a miss, no stdalloc)', () => {
    const { m, pool } = setup(40, 1);
    memGet(m, pool, 0);
    takeAllPages(m);
    expect(memGet(m, pool, 0)).toBe(0);
    expect(memPoolStats(m, pool)).toMatchObject({ alloc_count: 2, pool_misses: 1, curr_stdalloc: 0, max_stdalloc: 0 });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a NULL or unknown pool is an invalid argument', () => {
    const { m } = setup();
    expectSlabError(() => memGet(m, 0, 0), 'EINVAL', /NULL/);
    expectSlabError(() => memGet(m, PAGE * 40, 0), 'EINVAL', /no mem_pool/);
  });
});

describe('glusterfs mem_pool: mem_put and __is_member', () => {
  it('1, member: hot_count--, cold_count++, in_use = 0, back on the head of the list', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    memGet(m, pool, 0);
    expect(memPut(m, a, 1)).toBe('pool');
    expect(header(m, a, GF_CHUNK.in_use)).toBe(0);
    expect(memPoolStats(m, pool)).toMatchObject({ hot_count: 1, cold_count: 7, max_alloc: 2 });
    expect(memGet(m, pool, 0)).toBe(a);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a double mem_put is a double free: counted, nothing else changes', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    memPut(m, a, 0);
    const d = digest(m);
    expect(memPut(m, a, 0)).toBe('double_free');
    expect(memPoolStats(m, pool).double_free).toBe(1);
    m.u32[addrWord(m, pool) + GF_POOL.double_free]--; // apart from the counter, every byte is as before
    expect(digest(m)).toBe(d);
    expect(validate(m, pool).messages).toEqual([]);
    expect(memGet(m, pool, 0)).toBe(a); // a was on the list once
    expect(memGet(m, pool, 0)).not.toBe(a);
  });

  it('-1, inside the region but not at a chunk boundary: EBADFREE, state unchanged', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    const bad = a + 8;
    m.u32[addrWord(m, gfPtr2Chunk(bad)) + GF_CHUNK.pool] = pool; // the bytes before it look like a header
    expect(isMember(m, pool, bad)).toBe(-1);
    const d = digest(m);
    expectSlabError(() => memPut(m, bad, 0), 'EBADFREE', /not at a chunk boundary/);
    expect(digest(m)).toBe(d);
  });

  it('0, outside the region: a heap chunk is released, curr_stdalloc--', () => {
    const { m, pool } = setup(40, 1);
    memGet(m, pool, 0);
    const free0 = freePageCount(m);
    const h = memGet(m, pool, 0);
    expect(memPut(m, h, 0)).toBe('heap');
    expect(freePageCount(m)).toBe(free0);
    expect(memPoolStats(m, pool)).toMatchObject({ curr_stdalloc: 0, max_stdalloc: 1 });
    // Putting it again: the heap refuses the free, nothing changes.
    const d = digest(m);
    expectSlabError(() => memPut(m, h, 0), 'EBADFREE');
    expect(digest(m)).toBe(d);
  });

  it('NULL, a pointer outside memory, or a header without a pool is an error and changes nothing', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    const d = digest(m);
    expectSlabError(() => memPut(m, 0, 0), 'EINVAL', /NULL/);
    expectSlabError(() => memPut(m, 8, 0), 'EBADFREE', /corrupted/);
    const s = memPoolStats(m, pool);
    expectSlabError(() => memPut(m, s.pool_end + 4096 * 10, 0), 'EBADFREE', /mem-pool ptr is NULL/);
    m.u32[addrWord(m, gfPtr2Chunk(a + 16)) + GF_CHUNK.pool] = s.pool; // names something that is no pool
    const d2 = digest(m);
    expectSlabError(() => memPut(m, a + 16, 0), 'EBADFREE', /corrupted/);
    expect(digest(m)).toBe(d2);
    m.u32[addrWord(m, gfPtr2Chunk(a + 16)) + GF_CHUNK.pool] = 0;
    expect(digest(m)).toBe(d);
  });
});

describe('glusterfs mem_pool: mem_pool_destroy and validate', () => {
  it('is refused (EBUSY, unchanged) while objects are out; then returns every page and unregisters', () => {
    const m = machine();
    const free0 = freePageCount(m);
    const ctx = gfCtxCreate(m, 0);
    const pool = memPoolNewFn(m, ctx, 100, 50, 'fd', 'xl', 0);
    const other = memPoolNewFn(m, ctx, 8, 5, 'dict', 'xl', 0);
    expect(ctxPools(m, ctx)).toEqual([other, pool]);
    const objs = Array.from({ length: 52 }, () => memGet(m, pool, 0));
    const d = digest(m);
    expectSlabError(() => memPoolDestroy(m, pool, 0), 'EBUSY', /50 chunks and 2 heap objects/);
    expect(digest(m)).toBe(d);
    for (const o of objs) memPut(m, o, 1);
    memPoolDestroy(m, pool, 0);
    expect(ctxPools(m, ctx)).toEqual([other]);
    memPoolDestroy(m, other, 0);
    expect(ctxPools(m, ctx)).toEqual([]);
    expect(freePageCount(m)).toBe(free0 - 1); // the ctx's page
    expectSlabError(() => memGet(m, pool, 0), 'EINVAL', /no mem_pool/);
  });

  it('validate finds a chunk whose in_use disagrees, and a wrong cold_count', () => {
    const { m, pool } = setup();
    const a = memGet(m, pool, 0);
    m.u32[addrWord(m, gfPtr2Chunk(a)) + GF_CHUNK.in_use] = 0;
    expect(validate(m, pool).messages.join('\n')).toMatch(/in_use == 0\) but not on the list|hot_count/);
    m.u32[addrWord(m, gfPtr2Chunk(a)) + GF_CHUNK.in_use] = 1;
    expect(validate(m, pool).errors).toBe(0);
    m.u32[addrWord(m, pool) + GF_POOL.cold_count]++;
    const msgs = validate(m, pool).messages.join('\n');
    expect(msgs).toMatch(/hot_count 1 \+ cold_count 8 != count 8/);
    expect(msgs).toMatch(/\|list\| 7 != cold_count 8/);
  });
});

describe('glusterfs mem_pool under the scheduler', () => {
  it('3 CPUs on one pool (lock, region and heap fallback) end clean', () => {
    for (const seed of [1, 2, 3, 4]) {
      const { m, pool } = setup(24, 6, 3);
      const free0 = freePageCount(m);
      const ledger = new Ledger();
      const programs = [0, 1, 2].map((cpu) =>
        glusterfsWorkload(m, pool, cpu, { ops: 200, maxHeld: 5 }, new Rng(seed, cpu), ledger, 24),
      );
      const r = runScheduled(programs, new RandomStrategy(seed), { trace: true });
      expect(r.outcome, r.message).toBe('ok');
      expect(r.trace?.some((t) => t.blocked && t.site === 'mem_get:lock')).toBe(true);
      expect(ledger.problems).toEqual([]);
      const s = memPoolStats(m, pool);
      expect(s.pool_misses).toBeGreaterThan(0);
      expect(s).toMatchObject({ hot_count: 0, cold_count: 6, curr_stdalloc: 0, double_free: 0 });
      expect(sched.validate(m, pool).messages).toEqual([]);
      expect(freePageCount(m)).toBe(free0);
    }
  });

  it('ends validate-clean after a random single-CPU run', () => {
    for (const seed of [7, 8, 9]) {
      const { m, pool } = setup(40, 10, 1);
      const ledger = new Ledger();
      const r = runScheduled(
        [glusterfsWorkload(m, pool, 0, { ops: 1000, maxHeld: 16 }, new Rng(seed, 0), ledger, 40)],
        new RandomStrategy(seed),
      );
      expect(r.outcome, r.message).toBe('ok');
      expect(ledger.problems).toEqual([]);
      expect(sched.validate(m, pool).messages).toEqual([]);
      expect(memPoolStats(m, pool).max_stdalloc).toBeGreaterThan(0);
    }
  });
});
