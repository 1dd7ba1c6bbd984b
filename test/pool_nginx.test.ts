import { describe, expect, it } from 'vitest';
import { Ledger } from '../src/mm/pools/ledger.js';
import {
  NGX_DECLINED,
  NGX_OK,
  ngxCleanupData,
  ngxCleanupSetHandler,
  ngxCreatePool,
  ngxDestroyPool,
  ngxPalloc,
  ngxPcalloc,
  ngxPfree,
  ngxPmemalign,
  ngxPnalloc,
  ngxPoolCleanupAdd,
  ngxPoolInfo,
  ngxResetPool,
  validate,
} from '../src/mm/pools/nginx.fast.js';
import * as sched from '../src/mm/pools/nginx.js';
import { closedFiles, NGX_INVALID_FILE, ngxCleanupId, registerNgxCleanup } from '../src/mm/pools/ngx_cleanup.js';
import { NGX_ALIGNMENT, NGX_MIN_POOL_SIZE, NGX_POOL, NGX_POOL_DATA_BYTES, sizeofStruct } from '../src/mm/pools/structs.js';
import { nginxWorkload } from '../src/mm/pools/workload.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { addrByte, addrWord, create, type Machine } from '../src/shm/machine.js';
import { digest, expectSlabError } from './helpers.js';

const PAGE = 4096;
const SIZEOF_POOL = sizeofStruct(NGX_POOL);
const machine = (cpus = 2): Machine => create({ cpus, memory: 1 << 20 });
function setup(size = 1024) {
  const m = machine();
  const free0 = freePageCount(m);
  const pool = ngxCreatePool(m, size, 0);
  expect(pool).not.toBe(0);
  return { m, pool, free0 };
}
const info = (m: Machine, pool: number) => ngxPoolInfo(m, pool);
let lastTaken = 0;
function exhaust(m: Machine): void {
  for (let pfn = allocPages(m, 0, 0, 0); pfn !== 0; pfn = allocPages(m, 0, 0, 0)) lastTaken = pfn;
}
const allocPagesLeft = (_m: Machine): number => lastTaken;
describe('nginx pool: ngx_create_pool', () => {
  it('sets last, end, max and current as the original', () => {
    const { m, pool } = setup(1024);
    const i = info(m, pool);
    expect(i.blocks).toEqual([
      { addr: pool, last: pool + SIZEOF_POOL, end: pool + 1024, failed: 0, used: SIZEOF_POOL, current: true },
    ]);
    expect(i.max).toBe(1024 - SIZEOF_POOL);
    expect(i.large).toEqual([]);
    expect(i.cleanup).toEqual([]);
    expect(validate(m, pool).messages).toEqual([]);
    const big = ngxCreatePool(m, 16384, 0);
    expect(info(m, big).max).toBe(PAGE - 1); // NGX_MAX_ALLOC_FROM_POOL
  });

  it('refuses a size below NGX_MIN_POOL_SIZE; returns 0 without memory', () => {
    const m = machine();
    expect(NGX_MIN_POOL_SIZE).toBe(64);
    expectSlabError(() => ngxCreatePool(m, 63, 0), 'EINVAL', /size/);
    exhaust(m);
    expect(ngxCreatePool(m, 1024, 0)).toBe(0);
  });
});

describe('nginx pool: small allocations', () => {
  it('ngx_palloc aligns to NGX_ALIGNMENT (8), ngx_pnalloc does not', () => {
    const { m, pool } = setup();
    const s = ngxPnalloc(m, pool, 3, 0);
    expect(s).toBe(pool + SIZEOF_POOL);
    expect(ngxPnalloc(m, pool, 5, 0)).toBe(s + 3);
    const a = ngxPalloc(m, pool, 8, 0);
    expect(a % NGX_ALIGNMENT).toBe(0);
    expect(a).toBe(s + 8);
    expect(info(m, pool).blocks[0].last).toBe(a + 8);
  });

  it('ngx_pcalloc zeroes', () => {
    const { m, pool } = setup();
    const a = ngxPalloc(m, pool, 64, 0);
    m.u8.fill(0xee, addrByte(m, a), addrByte(m, a) + 64);
    ngxResetPool(m, pool);
    const b = ngxPcalloc(m, pool, 64, 0);
    expect(b).toBe(a);
    expect([...m.u8.subarray(addrByte(m, b), addrByte(m, b) + 64)].every((x) => x === 0)).toBe(true);
  });

  it('a request no block fits gets a new block of the same size, linked at the end', () => {
    const { m, pool } = setup(256);
    ngxPalloc(m, pool, 200, 0);
    const a = ngxPalloc(m, pool, 200, 0);
    const { blocks } = info(m, pool);
    expect(blocks).toHaveLength(2);
    const b = blocks[1].addr;
    expect(b % PAGE).toBe(0);
    expect(a).toBe(b + NGX_POOL_DATA_BYTES);
    expect(blocks[1]).toMatchObject({ end: b + 256, last: a + 200, failed: 0 });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('blocks tried on the way get failed++; current moves past a block whose failed exceeds 4', () => {
    const { m, pool } = setup(256);
    for (let i = 0; i < 8; i++) ngxPalloc(m, pool, 200, 0);
    let i = info(m, pool);
    expect(i.blocks.map((b) => b.failed)).toEqual([6, 5, 4, 3, 2, 1, 0, 0]);
    expect(i.current).toBe(i.blocks[1].addr);
    ngxPalloc(m, pool, 200, 0);
    i = info(m, pool);
    expect(i.blocks.map((b) => b.failed)).toEqual([6, 6, 5, 4, 3, 2, 1, 0, 0]); // the first is no longer tried
    expect(i.current).toBe(i.blocks[2].addr);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('returns 0 when a new block cannot be had', () => {
    const { m, pool } = setup(256);
    ngxPalloc(m, pool, 200, 0);
    exhaust(m);
    expect(ngxPalloc(m, pool, 200, 0)).toBe(0);
    expect(ngxPalloc(m, pool, 8, 0)).not.toBe(0); // still fits the first block
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a negative size is an invalid argument; an unknown pool too', () => {
    const { m, pool } = setup();
    expectSlabError(() => ngxPalloc(m, pool, -1, 0), 'EINVAL', /size/);
    expectSlabError(() => ngxPalloc(m, PAGE * 50, 8, 0), 'EINVAL', /no ngx_pool_t/);
  });
});

describe('nginx pool: large allocations and ngx_pfree', () => {
  it('above max: from the heap, recorded in the large list through a node that is a small allocation', () => {
    const { m, pool, free0 } = setup(1024);
    const before = info(m, pool).blocks[0].last;
    const a = ngxPalloc(m, pool, 5000, 0);
    expect(a % PAGE).toBe(0);
    expect(freePageCount(m)).toBe(free0 - 1 - 2);
    const i = info(m, pool);
    expect(i.large).toEqual([{ node: before, alloc: a }]);
    expect(i.blocks[0].last).toBe(before + 8);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('ngx_pfree releases it and keeps the node; the next large allocation reuses the node', () => {
    const { m, pool, free0 } = setup(1024);
    const a = ngxPalloc(m, pool, 5000, 0);
    const node = info(m, pool).large[0].node;
    expect(ngxPfree(m, pool, a)).toBe(NGX_OK);
    expect(info(m, pool).large).toEqual([{ node, alloc: 0 }]);
    expect(freePageCount(m)).toBe(free0 - 1);
    expect(ngxPfree(m, pool, a)).toBe(NGX_DECLINED);
    const b = ngxPalloc(m, pool, 2000, 0);
    expect(info(m, pool).large).toEqual([{ node, alloc: b }]);
  });

  it('a small allocation is not freed one by one: NGX_DECLINED', () => {
    const { m, pool } = setup();
    const s = ngxPalloc(m, pool, 16, 0);
    const d = digest(m);
    expect(ngxPfree(m, pool, s)).toBe(NGX_DECLINED);
    expect(digest(m)).toBe(d);
  });

  it('the search for a free node looks at the first five nodes only (`n++ > 3`)', () => {
    const { m, pool } = setup(1024);
    const allocs = Array.from({ length: 7 }, () => ngxPalloc(m, pool, 1024, 0));
    // The list is newest first: allocs[6] is at position 1, allocs[0] at position 7.
    ngxPfree(m, pool, allocs[1]); // position 6: not looked at
    ngxPalloc(m, pool, 1024, 0);
    expect(info(m, pool).large).toHaveLength(8);
    ngxPfree(m, pool, allocs[3]); // position 5 now that a node was added
    const node5 = info(m, pool).large[4];
    expect(node5.alloc).toBe(0);
    const c = ngxPalloc(m, pool, 1024, 0);
    expect(info(m, pool).large).toHaveLength(8);
    expect(info(m, pool).large[4]).toEqual({ node: node5.node, alloc: c });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a large allocation that cannot get its node gives the memory back', () => {
    const { m, pool } = setup(64); // max 24: the first block has no room for a node after this
    ngxPalloc(m, pool, 24, 0);
    exhaust(m);
    freePages(m, allocPagesLeft(m), 0); // one page: enough for the allocation, not for a new block
    expect(freePageCount(m)).toBe(1);
    expect(ngxPalloc(m, pool, 100, 0)).toBe(0);
    expect(freePageCount(m)).toBe(1);
    expect(info(m, pool).large).toEqual([]);
  });

  it('ngx_pmemalign: aligned, always a new node; a bad alignment is EINVAL', () => {
    const { m, pool } = setup(1024);
    const a = ngxPalloc(m, pool, 2000, 0);
    ngxPfree(m, pool, a);
    const p = ngxPmemalign(m, pool, 100, 256, 0);
    expect(p % 256).toBe(0);
    expect(info(m, pool).large.map((l) => l.alloc)).toEqual([p, 0]);
    expectSlabError(() => ngxPmemalign(m, pool, 100, 24, 0), 'EINVAL', /alignment/);
    expectSlabError(() => ngxPmemalign(m, pool, 100, 2 * PAGE, 0), 'EINVAL', /alignment/);
  });
});

describe('nginx pool: cleanup, reset and destroy', () => {
  it('handlers run on destroy, most recent first, with their data; NULL handlers are skipped', () => {
    const { m, pool } = setup();
    const calls: string[] = [];
    const h1 = registerNgxCleanup('test:first', (mm, data) => calls.push(`first ${mm.u32[addrWord(mm, data)]}`));
    const h2 = registerNgxCleanup('test:second', (_, data) => calls.push(`second ${data}`));
    const c1 = ngxPoolCleanupAdd(m, pool, 4, h1, 0);
    m.u32[addrWord(m, ngxCleanupData(m, c1))] = 42;
    ngxPoolCleanupAdd(m, pool, 0, 0, 0); // no handler
    const c3 = ngxPoolCleanupAdd(m, pool, 0, 0, 0);
    ngxCleanupSetHandler(m, c3, h2);
    expect(info(m, pool).cleanup.map((c) => c.handler)).toEqual([h2, 0, h1]);
    expect(validate(m, pool).messages).toEqual([]);
    ngxDestroyPool(m, pool);
    expect(calls).toEqual(['second 0', 'first 42']);
  });

  it('ngx_pool_cleanup_file closes its fd', () => {
    const { m, pool } = setup();
    const c = ngxPoolCleanupAdd(m, pool, 8, ngxCleanupId('ngx_pool_cleanup_file'), 0);
    const data = ngxCleanupData(m, c);
    m.u32[addrWord(m, data)] = 7;
    const n = closedFiles.length;
    ngxDestroyPool(m, pool);
    expect(closedFiles.slice(n)).toEqual([7]);
    expect(NGX_INVALID_FILE).toBe(0xffffffff);
  });

  it('an unknown handler id is an invalid argument', () => {
    const { m, pool } = setup();
    const d = digest(m);
    expectSlabError(() => ngxPoolCleanupAdd(m, pool, 0, 9999, 0), 'EINVAL', /not registered/);
    expect(digest(m)).toBe(d);
    expectSlabError(() => ngxCleanupId('no such handler'), 'EINVAL');
  });

  it('ngx_reset_pool frees the large allocations and rewinds every block; blocks stay', () => {
    const { m, pool, free0 } = setup(256);
    const calls: number[] = [];
    const h = registerNgxCleanup('test:reset', () => calls.push(1));
    ngxPoolCleanupAdd(m, pool, 0, h, 0);
    for (let i = 0; i < 8; i++) ngxPalloc(m, pool, 200, 0);
    ngxPalloc(m, pool, 5000, 0);
    const blocks = info(m, pool).blocks.length;
    ngxResetPool(m, pool);
    const i = info(m, pool);
    expect(i.blocks).toHaveLength(blocks);
    for (const b of i.blocks) expect(b).toMatchObject({ last: b.addr + SIZEOF_POOL, failed: 0 });
    expect(i.current).toBe(pool);
    expect(i.large).toEqual([]);
    expect(i.cleanup).toEqual([]);
    expect(calls).toEqual([]); // reset runs no handler
    expect(freePageCount(m)).toBe(free0 - blocks);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('ngx_destroy_pool releases large allocations and every block; the pool is gone', () => {
    const { m, pool, free0 } = setup(512);
    for (let i = 0; i < 20; i++) ngxPalloc(m, pool, 300, 0);
    for (let i = 0; i < 5; i++) ngxPalloc(m, pool, 3000 + i, 0);
    ngxPfree(m, pool, info(m, pool).large[2].alloc);
    expect(freePageCount(m)).toBeLessThan(free0 - 10);
    ngxDestroyPool(m, pool);
    expect(freePageCount(m)).toBe(free0);
    expectSlabError(() => ngxPalloc(m, pool, 8, 0), 'EINVAL', /no ngx_pool_t/);
  });

  it('validate finds a block whose last passed end, and a current off the list', () => {
    const { m, pool } = setup();
    m.u32[addrWord(m, pool) + NGX_POOL.last] = pool + 2000;
    expect(validate(m, pool).messages.join('\n')).toMatch(/last .* outside/);
    m.u32[addrWord(m, pool) + NGX_POOL.last] = pool + SIZEOF_POOL;
    m.u32[addrWord(m, pool) + NGX_POOL.current] = pool + 8;
    expect(validate(m, pool).messages.join('\n')).toMatch(/current .* is not one of its blocks/);
  });
});

describe('nginx pool under the scheduler', () => {
  it('3 CPUs, each with its own pool, end clean; destroy gives every page back', () => {
    for (const seed of [1, 2, 3]) {
      const m = machine(3);
      const free0 = freePageCount(m);
      const pools = [0, 1, 2].map((cpu) => ngxCreatePool(m, 512, cpu));
      const ledger = new Ledger();
      const programs = pools.map((p, cpu) =>
        nginxWorkload(m, p, cpu, { ops: 300, maxHeld: 6 }, new Rng(seed, cpu), ledger, 512 - SIZEOF_POOL),
      );
      const r = runScheduled(programs, new RandomStrategy(seed), { trace: true });
      expect(r.outcome, r.message).toBe('ok');
      const trace = r.trace ?? [];
      expect(trace.filter((t, i) => i > 0 && t.cpu !== trace[i - 1].cpu).length).toBeGreaterThan(50);
      expect(ledger.problems).toEqual([]);
      for (const p of pools) expect(sched.validate(m, p).messages).toEqual([]);
      for (const p of pools) ngxDestroyPool(m, p);
      expect(freePageCount(m)).toBe(free0);
    }
  });

  it('ends validate-clean after a random single-CPU run', () => {
    for (const seed of [4, 5, 6]) {
      const m = machine(1);
      const pool = ngxCreatePool(m, 1024, 0);
      const ledger = new Ledger();
      const r = runScheduled(
        [nginxWorkload(m, pool, 0, { ops: 1000, maxHeld: 8 }, new Rng(seed, 0), ledger, 1024 - SIZEOF_POOL)],
        new RandomStrategy(seed),
      );
      expect(r.outcome, r.message).toBe('ok');
      expect(ledger.problems).toEqual([]);
      expect(sched.validate(m, pool).messages).toEqual([]);
    }
  });
});
