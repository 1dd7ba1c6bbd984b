import { describe, expect, it } from 'vitest';
import {
  createPool,
  haPoolAt,
  headAddrOf,
  type HaPool,
  type HaPoolOptions,
  poolAlloc,
  poolDestroy,
  poolEvictFromCache,
  poolFlush,
  poolFlushCache,
  poolFree,
  poolGc,
  poolGcAll,
  poolHeadStats,
  poolRegistryCreate,
  poolUsers,
  registryPools,
  validate,
} from '../src/mm/pools/haproxy.fast.js';
import * as sched from '../src/mm/pools/haproxy.js';
import { Ledger } from '../src/mm/pools/ledger.js';
import {
  HA_FREE_PTR,
  HA_FREE_TAG,
  HA_PAGE,
  haBlocksPerPage,
  haFirstBlock,
  haHeadAddr,
  MEM_F_SHARED,
} from '../src/mm/pools/structs.js';
import { haproxyAbaWorkload, haproxyWorkload } from '../src/mm/pools/workload.js';
import { freePages } from '../src/mm/page_alloc.fast.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { addrWord, create, type Machine } from '../src/shm/machine.js';
import { digest, expectSlabError, takeAllPages } from './helpers.js';

const PAGE = 4096;
const machine = (cpus = 2, memory = 1 << 20): Machine => create({ cpus, memory });
const pool = (m: Machine, o: Partial<HaPoolOptions> = {}, registry = 0): HaPool => {
  const p = createPool(m, registry, { name: 'test', size: 64, kind: 'percpu', ...o }, 0);
  if (p === null) throw new Error('no memory for the pool');
  return p;
};
const stats = (p: HaPool, i = 0) => poolHeadStats(p, i);
const freeList = (p: HaPool, cpu = 0): number => p.m.u32[addrWord(p.m, headAddrOf(p, cpu)) + HA_FREE_PTR];
const word = (m: Machine, addr: number): number => m.u32[addrWord(m, addr)];
describe('haproxy pool: create_pool', () => {
  it('rounds the size up to 16, keeps 11 bytes of the name, starts empty', () => {
    const m = machine();
    for (const kind of ['percpu', 'shared', 'tagged', 'cached'] as const) {
      const p = pool(m, { kind, size: 20, name: 'a-rather-long-name', limit: 7, minavail: 3 });
      expect(p.size).toBe(32);
      expect(p.name).toBe('a-rather-lo');
      expect(p.kind).toBe(kind);
      expect(p.nheads).toBe(kind === 'percpu' ? 2 : 1);
      expect(stats(p)).toMatchObject({ used: 0, allocated: 0, failed: 0, limit: 7, minavail: 3, free: 0, nr_pages: 0 });
      expect(haPoolAt(m, p.addr)).toEqual(p);
      expect(validate(p).errors).toBe(0);
    }
  });

  it('refuses bad options with EINVAL', () => {
    const m = machine();
    expectSlabError(() => pool(m, { size: 0 }), 'EINVAL', /size/);
    expectSlabError(() => pool(m, { size: PAGE }), 'EINVAL', /does not fit a page/);
    expectSlabError(() => pool(m, { kind: 'bogus' as never }), 'EINVAL', /kind/);
    expectSlabError(() => pool(m, { limit: -1 }), 'EINVAL', /limit/);
    expectSlabError(() => createPool(m, 0, { name: 'x', size: 8, kind: 'percpu' }, 5), 'EINVAL', /cpu 5/);
    expectSlabError(() => createPool(m, 12345, { name: 'x', size: 8, kind: 'percpu' }, 0), 'EINVAL', /registry/);
    expectSlabError(() => haPoolAt(m, PAGE * 3), 'EINVAL', /no pool_head/);
  });
});

describe('haproxy pool: pool_alloc / pool_free', () => {
  it('an empty free list is refilled with one page carved into blocks', () => {
    const m = machine();
    const p = pool(m);
    const before = freePageCount(m);
    const a = poolAlloc(p, 0);
    const perPage = haBlocksPerPage(PAGE, 64);
    expect(freePageCount(m)).toBe(before - 1);
    const page = a - (a % PAGE);
    expect(a).toBe(haFirstBlock(page));
    expect(m.u32[addrWord(m, page) + HA_PAGE.nblocks]).toBe(perPage);
    expect(m.u32[addrWord(m, page) + HA_PAGE.pool]).toBe(headAddrOf(p, 0));
    expect(stats(p)).toMatchObject({ used: 1, allocated: perPage, free: perPage - 1, nr_pages: 1 });
    expect(validate(p).errors).toBe(0);
  });

  it('pop: the result is the first free block and free_list becomes the word inside it', () => {
    const m = machine();
    const p = pool(m);
    poolAlloc(p, 0);
    const first = freeList(p);
    const inside = word(m, first);
    expect(poolAlloc(p, 0)).toBe(first);
    expect(freeList(p)).toBe(inside);
    expect(stats(p).used).toBe(2);
  });

  it('push: the block takes the old free_list in its first word, becomes free_list, used--', () => {
    const m = machine();
    const p = pool(m);
    const a = poolAlloc(p, 0);
    const old = freeList(p);
    poolFree(p, 0, a);
    expect(freeList(p)).toBe(a);
    expect(word(m, a)).toBe(old);
    expect(stats(p).used).toBe(0);
    expect(poolAlloc(p, 0)).toBe(a); // LIFO
    expect(validate(p).errors).toBe(0);
  });

  it('pool_free(NULL) is ignored', () => {
    const m = machine();
    const p = pool(m);
    poolAlloc(p, 0);
    const d = digest(m);
    poolFree(p, 0, 0);
    expect(digest(m)).toBe(d);
  });

  it('the plain shared stack and the tagged one behave as stacks; the tag counts every update', () => {
    const m = machine();
    for (const kind of ['shared', 'tagged'] as const) {
      const p = pool(m, { kind });
      const tag = () => m.u32[addrWord(m, headAddrOf(p, 0)) + HA_FREE_TAG];
      const a = poolAlloc(p, 1);
      const b = poolAlloc(p, 0);
      const t0 = tag();
      poolFree(p, 1, b);
      poolFree(p, 0, a);
      expect(poolAlloc(p, 0)).toBe(a);
      expect(poolAlloc(p, 1)).toBe(b);
      expect(tag() - t0).toBe(kind === 'tagged' ? 4 : 0);
      expect(validate(p).errors).toBe(0);
    }
  });

  it('per-CPU heads are independent: own pages, own counters', () => {
    const m = machine();
    const p = pool(m);
    const a = poolAlloc(p, 0);
    const b = poolAlloc(p, 1);
    expect(a - (a % PAGE)).not.toBe(b - (b % PAGE));
    expect(stats(p, 0).used).toBe(1);
    expect(stats(p, 1).used).toBe(1);
    poolFree(p, 1, b);
    expect(stats(p, 1).used).toBe(0);
    expect(stats(p, 0).used).toBe(1);
    expect(validate(p).errors).toBe(0);
  });
});

describe('haproxy pool: limit and out of memory', () => {
  it('refuses an allocation once allocated reaches limit (counted in failed), and carves no more than limit', () => {
    const m = machine();
    const p = pool(m, { limit: 5 });
    const got = Array.from({ length: 5 }, () => poolAlloc(p, 0));
    expect(got.every((a) => a !== 0)).toBe(true);
    expect(stats(p)).toMatchObject({ allocated: 5, used: 5, free: 0 });
    const d = stats(p);
    expect(poolAlloc(p, 0)).toBe(0);
    expect(stats(p)).toEqual({ ...d, failed: 1 });
    poolFree(p, 0, got[2]);
    expect(poolAlloc(p, 0)).toBe(got[2]);
    expect(validate(p).errors).toBe(0);
  });

  it('a limit beyond one page carves the next page only up to the limit', () => {
    const m = machine();
    const perPage = haBlocksPerPage(PAGE, 64);
    const p = pool(m, { kind: 'tagged', limit: perPage + 3 });
    for (let i = 0; i < perPage + 3; i++) expect(poolAlloc(p, 0)).not.toBe(0);
    expect(stats(p)).toMatchObject({ allocated: perPage + 3, nr_pages: 2 });
    expect(poolAlloc(p, 0)).toBe(0);
    expect(validate(p).errors).toBe(0);
  });

  it('returns 0 when the page allocator is empty, leaving allocated unchanged', () => {
    for (const kind of ['percpu', 'shared', 'tagged', 'cached'] as const) {
      const m = machine();
      const p = pool(m, { kind });
      const taken = takeAllPages(m);
      expect(poolAlloc(p, 0)).toBe(0);
      expect(stats(p)).toMatchObject({ allocated: 0, used: 0, failed: 1 });
      freePages(m, taken[0], 0);
      expect(poolAlloc(p, 0)).not.toBe(0);
      expect(validate(p).errors).toBe(0);
    }
  });

  it('on page allocation failure, pool_gc2 trims every registered pool and the refill succeeds', () => {
    const m = machine();
    const reg = poolRegistryCreate(m, 0);
    const a = pool(m, { name: 'a', size: 64 }, reg);
    const b = pool(m, { name: 'b', size: 128 }, reg);
    const held = poolAlloc(b, 0);
    poolFree(b, 0, held); // b now has a whole free page
    takeAllPages(m);
    expect(poolAlloc(a, 0)).not.toBe(0);
    expect(stats(b)).toMatchObject({ allocated: 0, nr_pages: 0 });
    expect(validate(a).errors + validate(b).errors).toBe(0);
  });
});

describe('haproxy pool: trimming (pool_gc2, pool_flush2, pool_gc2_ifneed)', () => {
  const perPage = haBlocksPerPage(PAGE, 64);
  /** allocate two pages' worth plus one block of page 3, then free the first two pages */
  function twoFreePages(o: Partial<HaPoolOptions> = {}) {
    const m = machine();
    const p = pool(m, { kind: 'tagged', ...o });
    const blocks = Array.from({ length: 2 * perPage + 1 }, () => poolAlloc(p, 0));
    const keep = blocks.pop() as number;
    for (const b of blocks) poolFree(p, 0, b);
    return { m, p, keep };
  }

  it('releases only pages whose blocks are all free, while minavail free blocks remain', () => {
    const { m, p, keep } = twoFreePages({ minavail: perPage });
    const before = freePageCount(m);
    expect(stats(p)).toMatchObject({ allocated: 3 * perPage, used: 1, nr_pages: 3 });
    expect(poolGc(p, 0)).toBe(1); // one page would leave fewer than minavail free blocks
    expect(freePageCount(m)).toBe(before + 1);
    expect(stats(p)).toMatchObject({ allocated: 2 * perPage, used: 1, free: 2 * perPage - 1, nr_pages: 2 });
    expect(validate(p).errors).toBe(0);
    // The page holding `keep` is partly used: even a flush keeps it.
    expect(poolFlush(p, 0)).toBe(1);
    expect(stats(p)).toMatchObject({ allocated: perPage, used: 1, free: perPage - 1, nr_pages: 1 });
    poolFree(p, 0, keep);
    expect(poolFlush(p, 0)).toBe(1);
    expect(stats(p)).toMatchObject({ allocated: 0, used: 0, free: 0, nr_pages: 0 });
    expect(validate(p).errors).toBe(0);
  });

  it('minavail 0 releases every entirely free page', () => {
    const { p } = twoFreePages();
    expect(poolGc(p, 0)).toBe(2);
    expect(stats(p)).toMatchObject({ allocated: perPage, nr_pages: 1 });
  });

  it('pool_gc2_ifneed trims after a free when the zone is short of pages, and not otherwise', () => {
    for (const low of [0, 1 << 20]) {
      const m = machine();
      const p = pool(m, { kind: 'percpu', lowPages: low });
      const a = poolAlloc(p, 0);
      poolFree(p, 0, a);
      expect(stats(p).nr_pages).toBe(low === 0 ? 1 : 0);
      expect(validate(p).errors).toBe(0);
    }
  });

  it('pool_gc2 on the registry trims every pool', () => {
    const m = machine();
    const reg = poolRegistryCreate(m, 0);
    const ps = [pool(m, { size: 64 }, reg), pool(m, { size: 256, kind: 'shared' }, reg)];
    for (const p of ps) poolFree(p, 0, poolAlloc(p, 0));
    expect(poolGcAll(m, reg, 0)).toBe(2);
    for (const p of ps) expect(stats(p).nr_pages).toBe(0);
  });
});

describe('haproxy pool: the per-CPU cache (cached variant)', () => {
  it('frees go to the CPU cache, allocations come from it first; blocks in a cache count as used', () => {
    const m = machine();
    const p = pool(m, { kind: 'cached', cacheMax: 4 });
    const a = poolAlloc(p, 0);
    const shared = freeList(p);
    poolFree(p, 0, a);
    expect(freeList(p)).toBe(shared); // the shared list did not move
    expect(stats(p)).toMatchObject({ used: 1, cached: 1 });
    expect(poolAlloc(p, 0)).toBe(a);
    expect(stats(p)).toMatchObject({ used: 1, cached: 0 });
    expect(validate(p).errors).toBe(0);
  });

  it('a cache above cacheMax evicts down to half of it into the shared list', () => {
    const m = machine();
    const p = pool(m, { kind: 'cached', cacheMax: 4 });
    const blocks = Array.from({ length: 5 }, () => poolAlloc(p, 1));
    for (const b of blocks.slice(0, 4)) poolFree(p, 1, b);
    expect(stats(p)).toMatchObject({ used: 5, cached: 4 });
    poolFree(p, 1, blocks[4]); // 5 > 4: keep 2, evict 3
    expect(stats(p)).toMatchObject({ used: 2, cached: 2 });
    expect(freeList(p)).toBe(blocks[4]);
    expect(validate(p).errors).toBe(0);
    expect(poolFlushCache(p, 1)).toBe(2);
    expect(stats(p)).toMatchObject({ used: 0, cached: 0 });
    expect(poolEvictFromCache(p, 1, 3)).toBe(0);
    expect(validate(p).errors).toBe(0);
  });
});

describe('haproxy pool: misuse is refused and changes nothing', () => {
  it('pointers that are not blocks of the head, and a free with used == 0', () => {
    const m = machine();
    const p = pool(m);
    const q = pool(m, { name: 'other' });
    const a = poolAlloc(p, 0);
    const b = poolAlloc(p, 1);
    const c = poolAlloc(q, 0);
    const d = digest(m);
    expectSlabError(() => poolFree(p, 0, 3), 'EBADFREE', /outside simulated memory/);
    expectSlabError(() => poolFree(p, 0, a + 8), 'EBADFREE', /block boundary/);
    expectSlabError(() => poolFree(p, 0, c), 'EBADFREE', /not a block of this pool/);
    expectSlabError(() => poolFree(p, 0, b), 'EBADFREE', /belongs to CPU1's pool_head/);
    expectSlabError(() => poolFree(p, 2, a), 'EINVAL', /cpu 2/);
    expect(digest(m)).toBe(d);
    poolFree(p, 0, a);
    const d2 = digest(m);
    expectSlabError(() => poolFree(p, 0, a), 'EBADFREE', /double free/);
    expect(digest(m)).toBe(d2);
  });

  it('pool_destroy is refused while blocks are used (EBUSY, unchanged)', () => {
    const m = machine();
    const p = pool(m, { kind: 'cached' });
    const a = poolAlloc(p, 0);
    const d = digest(m);
    expectSlabError(() => poolDestroy(p, 0), 'EBUSY', /1 blocks still in use/);
    expect(digest(m)).toBe(d);
    poolFree(p, 0, a); // now in CPU0's cache: not "in use"
    expect(poolDestroy(p, 0)).toBe(true);
    expectSlabError(() => poolDestroy(p, 0), 'EINVAL', /already destroyed/);
  });

  it('validate finds a broken count and a cyclic free list', () => {
    const m = machine();
    const p = pool(m, { kind: 'tagged' });
    const a = poolAlloc(p, 0);
    poolFree(p, 0, a);
    const h = addrWord(m, haHeadAddr(p.addr, 0));
    m.u32[addrWord(m, a)] = a; // a links to itself
    const v = validate(p);
    expect(v.errors).toBeGreaterThan(0);
    expect(v.messages.join('\n')).toMatch(/also on free_list|cycle/);
    m.u32[h + HA_FREE_PTR] = 0;
    expect(validate(p).messages.join('\n')).toMatch(/used 0 \+ \|free_list\| 0 != allocated/);
  });
});

describe('haproxy pool: sharing (MEM_F_SHARED, users) and pool_destroy', () => {
  it('pools of equal rounded size with MEM_F_SHARED are one pool; the registry stays sorted', () => {
    const m = machine();
    const reg = poolRegistryCreate(m, 0);
    const a = pool(m, { name: 'a', size: 20, flags: MEM_F_SHARED }, reg);
    const b = pool(m, { name: 'b', size: 30, flags: MEM_F_SHARED }, reg);
    const c = pool(m, { name: 'c', size: 30 }, reg);
    const d = pool(m, { name: 'd', size: 8, flags: MEM_F_SHARED }, reg);
    const e = pool(m, { name: 'e', size: 32, kind: 'tagged', flags: MEM_F_SHARED }, reg);
    expect(b.addr).toBe(a.addr);
    expect(poolUsers(a)).toBe(2);
    expect(c.addr).not.toBe(a.addr);
    expect(e.addr).not.toBe(a.addr); // another variant
    expect(registryPools(m, reg).map((g) => haPoolAt(m, g).size)).toEqual([16, 32, 32, 32]);
    expect(registryPools(m, reg)[0]).toBe(d.addr);
  });

  it('destroy drops a user; the last one returns every page and leaves the registry', () => {
    const m = machine();
    const free0 = freePageCount(m);
    const reg = poolRegistryCreate(m, 0);
    const a = pool(m, { size: 64, flags: MEM_F_SHARED, kind: 'shared' }, reg);
    pool(m, { size: 64, flags: MEM_F_SHARED, kind: 'shared' }, reg);
    const blocks = Array.from({ length: 100 }, () => poolAlloc(a, 1));
    for (const b of blocks) poolFree(a, 0, b);
    expect(poolDestroy(a, 0)).toBe(false);
    expect(poolUsers(a)).toBe(1);
    expect(poolDestroy(a, 0)).toBe(true);
    expect(registryPools(m, reg)).toEqual([]);
    expect(freePageCount(m)).toBe(free0 - 1); // only the registry's page is left
  });
});

describe('haproxy pool under the scheduler', () => {
  const SEEDS = Array.from({ length: 30 }, (_, i) => i);
  function abaRun(kind: 'shared' | 'tagged' | 'cached', seed: number, cpus: number) {
    const m = machine(cpus);
    const p = pool(m, { kind, name: 'aba' });
    const ledger = new Ledger();
    const programs = Array.from({ length: cpus }, (_, cpu) => haproxyAbaWorkload(p, cpu, 40, ledger));
    const r = runScheduled(programs, new RandomStrategy(seed), { maxSteps: 2_000_000 });
    const v = sched.validate(p);
    return { r, ledger, v, broken: r.outcome !== 'ok' || ledger.broken || v.errors > 0 };
  }

  it('the plain Treiber stack breaks by ABA under some seeds (a block handed out twice or lost)', () => {
    for (const cpus of [2, 3]) {
      const broken = SEEDS.filter((seed) => abaRun('shared', seed, cpus).broken);
      expect(broken.length, `${cpus} CPUs`).toBeGreaterThan(0);
      const first = abaRun('shared', broken[0], cpus);
      // Either the ledger saw a block handed out twice, or validate saw used + |free_list| != allocated.
      expect(first.ledger.doubleIssue + first.v.errors).toBeGreaterThan(0);
    }
  });

  it('the same seeds find nothing in the tagged variant nor behind the per-CPU cache', () => {
    for (const cpus of [2, 3]) {
      for (const kind of ['tagged', 'cached'] as const) {
        for (const seed of SEEDS) {
          const { r, ledger, v } = abaRun(kind, seed, cpus);
          expect(r.outcome, `${kind} seed ${seed}: ${r.message}`).toBe('ok');
          expect(ledger.problems).toEqual([]);
          expect(v.messages).toEqual([]);
        }
      }
    }
  });

  it('every variant ends validate-clean after a random single-CPU run', () => {
    for (const kind of ['percpu', 'shared', 'tagged', 'cached'] as const) {
      for (const seed of [1, 2, 3]) {
        const m = machine(1);
        const p = pool(m, { kind, minavail: 8, limit: 400, cacheMax: 8 });
        const ledger = new Ledger();
        const r = runScheduled(
          [haproxyWorkload(p, 0, { ops: 1500, maxHeld: 150 }, new Rng(seed, 0), ledger)],
          new RandomStrategy(seed),
        );
        expect(r.outcome, r.message).toBe('ok');
        expect(ledger.problems).toEqual([]);
        expect(sched.validate(p).messages).toEqual([]);
        expect(stats(p).used - stats(p).cached).toBe(0);
      }
    }
  });

  it('the safe variants stay clean with 3 CPUs doing random work, trimming included', () => {
    for (const kind of ['percpu', 'tagged', 'cached'] as const) {
      for (const seed of [4, 5]) {
        const m = machine(3);
        const p = pool(m, { kind, minavail: 4, cacheMax: 6, lowPages: 1 << 20 }); // always short: trim after every free
        const ledger = new Ledger();
        const programs = [0, 1, 2].map((cpu) => haproxyWorkload(p, cpu, { ops: 300, maxHeld: 80 }, new Rng(seed, cpu), ledger));
        const r = runScheduled(programs, new RandomStrategy(seed));
        expect(r.outcome, r.message).toBe('ok');
        expect(ledger.problems).toEqual([]);
        expect(sched.validate(p).messages).toEqual([]);
        for (let c = 0; c < 3; c++) poolFlushCache(p, c);
        expect(sched.validate(p).messages).toEqual([]);
      }
    }
  });
});
