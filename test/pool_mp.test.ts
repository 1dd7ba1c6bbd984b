import { describe, expect, it } from 'vitest';
import { Ledger } from '../src/mm/pools/ledger.js';
import {
  mpCalloc,
  mpCreatePool,
  mpDestroyPool,
  mpFree,
  mpMalloc,
  mpMaxSmall,
  mpMonitor,
  mpMonitorText,
  mpResetPool,
  validate,
} from '../src/mm/pools/mp.fast.js';
import * as sched from '../src/mm/pools/mp.js';
import { MP_ALIGNMENT, MP_LARGE, MP_NODE, MP_POOL, mpHeadNode, mpNodeStart, sizeofStruct } from '../src/mm/pools/structs.js';
import { mpWorkload } from '../src/mm/pools/workload.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { addrByte, addrWord, create, type Machine } from '../src/shm/machine.js';
import { digest, expectSlabError, takeAllPages } from './helpers.js';

const PAGE = 4096;
const machine = (cpus = 2): Machine => create({ cpus, memory: 1 << 20 });
function setup(size = PAGE) {
  const m = machine();
  const free0 = freePageCount(m);
  const pool = mpCreatePool(m, size, 0);
  expect(pool).not.toBe(0);
  return { m, pool, free0 };
}
const mon = (m: Machine, pool: number) => mpMonitor(m, pool);
const node = (m: Machine, n: number, f: number): number => m.u32[addrWord(m, n) + f];
describe('mp pool: mp_create_pool', () => {
  it('one page: the pool header, then the head node, then data', () => {
    const { m, pool } = setup();
    const head = mpHeadNode(pool);
    expect(head).toBe(pool + sizeofStruct(MP_POOL));
    expect(mon(m, pool)).toEqual({
      blocks: [
        {
          index: 1,
          node: head,
          used: mpNodeStart(head) - pool,
          free: pool + PAGE - mpNodeStart(head),
          quote: 0,
          failed: 0,
          current: true,
        },
      ],
      large: [],
    });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('rounds the size as the tutorial: a multiple of a page is taken, the block stays one page', () => {
    const m = machine();
    const f0 = freePageCount(m);
    const a = mpCreatePool(m, 2 * PAGE, 0);
    expect(f0 - freePageCount(m)).toBe(2);
    expect(node(m, mpHeadNode(a), MP_NODE.end)).toBe(a + PAGE);
    mpCreatePool(m, 100, 0);
    expect(f0 - freePageCount(m)).toBe(3);
    takeAllPages(m);
    expect(mpCreatePool(m, PAGE, 0)).toBe(0);
  });
});

describe('mp pool: mp_malloc, mp_calloc', () => {
  it('size 0 or less fails with 0 and changes nothing; a fractional size is EINVAL', () => {
    const { m, pool } = setup();
    const d = digest(m);
    expect(mpMalloc(m, pool, 0, 0)).toBe(0);
    expect(mpMalloc(m, pool, -5, 0)).toBe(0);
    expect(digest(m)).toBe(d);
    expectSlabError(() => mpMalloc(m, pool, 1.5, 0), 'EINVAL', /integer/);
    expectSlabError(() => mpMalloc(m, PAGE * 60, 8, 0), 'EINVAL', /no mp_pool_s/);
  });

  it('aligns to 16 and counts live allocations in quote', () => {
    const { m, pool } = setup();
    const a = mpMalloc(m, pool, 3, 0);
    const b = mpMalloc(m, pool, 5, 0);
    expect(a % MP_ALIGNMENT).toBe(0);
    expect(a).toBe(Math.ceil(mpNodeStart(mpHeadNode(pool)) / 16) * 16);
    expect(b).toBe(a + 16);
    expect(mon(m, pool).blocks[0]).toMatchObject({ quote: 2, used: b + 5 - pool });
  });

  it('mp_calloc zeroes', () => {
    const { m, pool } = setup();
    const a = mpMalloc(m, pool, 64, 0);
    m.u8.fill(0x5a, addrByte(m, a), addrByte(m, a) + 64);
    mpFree(m, pool, a);
    const b = mpCalloc(m, pool, 64, 0);
    expect(b).toBe(a);
    expect([...m.u8.subarray(addrByte(m, b), addrByte(m, b) + 64)].every((x) => x === 0)).toBe(true);
  });

  it('a request no block fits gets a new one-page block: quote 1, data at the aligned start', () => {
    const { m, pool } = setup();
    mpMalloc(m, pool, 4000, 0);
    const a = mpMalloc(m, pool, 100, 0);
    const { blocks } = mon(m, pool);
    expect(blocks).toHaveLength(2);
    const b = blocks[1].node;
    expect(b % PAGE).toBe(0);
    expect(a).toBe(b + 32);
    expect(blocks[1]).toMatchObject({ quote: 1, failed: 0, used: 32 + 100 });
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('blocks walked past get failed++; current moves past a block whose failed exceeds 4', () => {
    const { m, pool } = setup();
    for (let i = 0; i < 8; i++) mpMalloc(m, pool, 4000, 0);
    let b = mon(m, pool).blocks;
    expect(b.map((x) => x.failed)).toEqual([6, 5, 4, 3, 2, 1, 0, 0]);
    expect(b.findIndex((x) => x.current)).toBe(1);
    mpMalloc(m, pool, 4000, 0);
    b = mon(m, pool).blocks;
    expect(b.map((x) => x.failed)).toEqual([6, 6, 5, 4, 3, 2, 1, 0, 0]);
    expect(b.findIndex((x) => x.current)).toBe(2);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('returns 0 when no new block can be had', () => {
    const { m, pool } = setup();
    mpMalloc(m, pool, 4000, 0);
    takeAllPages(m);
    expect(mpMalloc(m, pool, 100, 0)).toBe(0);
    expect(mpMalloc(m, pool, mpMaxSmall(m) + 1, 0)).toBe(0);
    expect(validate(m, pool).messages).toEqual([]);
  });
});

describe('mp pool: mp_free and block reference counts', () => {
  it('quote-- per free; the last free rewinds the block (last = start, failed = 0, current = head)', () => {
    const { m, pool } = setup();
    for (let i = 0; i < 8; i++) mpMalloc(m, pool, 4000, 0);
    const blocks = mon(m, pool).blocks;
    const x = mpMalloc(m, pool, 10, 0); // lands in the block current points at (its 64 bytes left)
    const owner = mon(m, pool).blocks.find((b) => b.quote === 2);
    expect(owner).toBeDefined();
    expect(blocks.find((b) => b.current)?.node).toBe(owner?.node);
    mpFree(m, pool, x);
    const after1 = mon(m, pool).blocks.find((b) => b.node === owner?.node);
    expect(after1).toMatchObject({ quote: 1, used: owner?.used });
    const first = (owner?.node ?? 0) + 32;
    mpFree(m, pool, first);
    const now = mon(m, pool);
    const rewound = now.blocks.find((b) => b.node === owner?.node);
    expect(rewound).toMatchObject({ quote: 0, failed: 0, used: sizeofStruct(MP_NODE) });
    expect(now.blocks[0].current).toBe(true);
    expect(mpMalloc(m, pool, 3000, 0)).toBe(first); // reused before the pool is destroyed
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a free of a block with quote 0 is a double free; a foreign pointer is refused; NULL is ignored', () => {
    const { m, pool } = setup();
    const other = mpCreatePool(m, PAGE, 0);
    const a = mpMalloc(m, pool, 32, 0);
    const o = mpMalloc(m, other, 32, 0);
    mpFree(m, pool, a);
    const d = digest(m);
    expectSlabError(() => mpFree(m, pool, a), 'EBADFREE', /quote == 0/);
    expectSlabError(() => mpFree(m, pool, o), 'EBADFREE', /not an allocation of this pool/);
    expectSlabError(() => mpFree(m, pool, PAGE * 100), 'EBADFREE', /not an allocation/);
    mpFree(m, pool, 0);
    expect(digest(m)).toBe(d);
  });
});

describe('mp pool: large allocations', () => {
  it('above a page minus the aligned node: from the heap, its node a small allocation (quote++)', () => {
    const { m, pool, free0 } = setup();
    const size = mpMaxSmall(m) + 1;
    const a = mpMalloc(m, pool, size, 0);
    expect(a % PAGE).toBe(0);
    expect(freePageCount(m)).toBe(free0 - 1 - 1); // 4065 bytes: one page of the heap
    const mo = mon(m, pool);
    expect(mo.large).toEqual([{ index: 1, size, alloc: a }]);
    expect(mo.blocks[0].quote).toBe(1);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('mp_free releases it and clears its node, which the next large allocation reuses', () => {
    const { m, pool, free0 } = setup();
    const a = mpMalloc(m, pool, 5000, 0);
    const l = m.u32[addrWord(m, pool) + MP_POOL.large];
    mpFree(m, pool, a);
    expect(freePageCount(m)).toBe(free0 - 1);
    expect([node(m, l, MP_LARGE.alloc), node(m, l, MP_LARGE.size)]).toEqual([0, 0]);
    expect(mon(m, pool).large).toEqual([]);
    const b = mpMalloc(m, pool, 6000, 0);
    expect(m.u32[addrWord(m, pool) + MP_POOL.large]).toBe(l);
    expect(node(m, l, MP_LARGE.alloc)).toBe(b);
    expect(mon(m, pool).blocks[0].quote).toBe(1); // no second node
  });

  it('the search for a free node looks at the first five nodes only', () => {
    const { m, pool } = setup();
    const big = Array.from({ length: 7 }, () => mpMalloc(m, pool, 5000, 0));
    mpFree(m, pool, big[1]); // position 6
    mpMalloc(m, pool, 5000, 0);
    expect(mon(m, pool).blocks[0].quote).toBe(8); // a new node
    mpFree(m, pool, big[3]); // position 5 now
    const c = mpMalloc(m, pool, 5000, 0);
    expect(mon(m, pool).blocks[0].quote).toBe(8); // reused
    expect(mon(m, pool).large.find((x) => x.alloc === c)?.index).toBe(5);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('a large allocation whose node cannot be had gives its memory back', () => {
    const { m, pool } = setup();
    const room = pool + PAGE - Math.ceil(mpNodeStart(mpHeadNode(pool)) / 16) * 16;
    expect(mpMalloc(m, pool, room, 0)).not.toBe(0); // the head block is full now
    const two = allocPages(m, 0, 1, 0);
    takeAllPages(m);
    freePages(m, two, 1); // room for the allocation, none for a new block
    expect(mpMalloc(m, pool, 5000, 0)).toBe(0);
    expect(freePageCount(m)).toBe(2);
    expect(mon(m, pool).blocks).toHaveLength(1);
  });
});

describe('mp pool: reset, destroy, monitor, validate', () => {
  it('mp_reset_pool releases large allocations and rewinds every block', () => {
    const { m, pool, free0 } = setup();
    for (let i = 0; i < 8; i++) mpMalloc(m, pool, 4000, 0);
    mpMalloc(m, pool, 9000, 0);
    const n = mon(m, pool).blocks.length;
    mpResetPool(m, pool);
    const mo = mon(m, pool);
    expect(mo.large).toEqual([]);
    expect(m.u32[addrWord(m, pool) + MP_POOL.large]).toBe(0);
    expect(mo.blocks).toHaveLength(n);
    for (const b of mo.blocks)
      expect(b).toMatchObject({ quote: 0, failed: 0, used: mpNodeStart(b.node) - (b.index === 1 ? pool : b.node) });
    expect(mo.blocks[0].current).toBe(true);
    expect(freePageCount(m)).toBe(free0 - n);
    expect(validate(m, pool).messages).toEqual([]);
  });

  it('mp_destroy_pool returns every page; the pool is gone', () => {
    const { m, pool, free0 } = setup();
    for (let i = 0; i < 5; i++) mpMalloc(m, pool, 3000, 0);
    for (let i = 0; i < 3; i++) mpMalloc(m, pool, 7000, 0);
    mpDestroyPool(m, pool);
    expect(freePageCount(m)).toBe(free0);
    expectSlabError(() => mpMalloc(m, pool, 8, 0), 'EINVAL', /no mp_pool_s/);
  });

  it('the monitor reports every block and the live large allocations', () => {
    const { m, pool } = setup();
    mpMalloc(m, pool, 4000, 0);
    mpMalloc(m, pool, 100, 0);
    mpMalloc(m, pool, 5000, 0);
    const text = mpMonitorText(m, pool, 'T');
    expect(text).toMatch(/start monitor poll------T/);
    expect(text).toMatch(/current==>block 1/);
    expect(text).toMatch(/block 02 small block {2}used: {1}132/);
    expect(text).toMatch(/large block {2}size=5000/);
  });

  it('validate finds a block whose quote disagrees with its last', () => {
    const { m, pool } = setup();
    mpMalloc(m, pool, 10, 0);
    m.u32[addrWord(m, mpHeadNode(pool)) + MP_NODE.quote] = 0;
    expect(validate(m, pool).messages.join('\n')).toMatch(/quote 0 but last - start/);
    m.u32[addrWord(m, mpHeadNode(pool)) + MP_NODE.quote] = 1;
    m.u32[addrWord(m, pool) + MP_POOL.current] = pool;
    expect(validate(m, pool).messages.join('\n')).toMatch(/current .* is not one of its blocks/);
  });
});

describe('mp pool under the scheduler', () => {
  it('3 CPUs, each with its own pool, end clean; destroy gives every page back', () => {
    for (const seed of [1, 2, 3]) {
      const m = machine(3);
      const free0 = freePageCount(m);
      const pools = [0, 1, 2].map((cpu) => mpCreatePool(m, PAGE, cpu));
      const ledger = new Ledger();
      const programs = pools.map((p, cpu) => mpWorkload(m, p, cpu, { ops: 300, maxHeld: 12 }, new Rng(seed, cpu), ledger));
      const r = runScheduled(programs, new RandomStrategy(seed));
      expect(r.outcome, r.message).toBe('ok');
      expect(ledger.problems).toEqual([]);
      for (const p of pools) expect(sched.validate(m, p).messages).toEqual([]);
      for (const p of pools) mpDestroyPool(m, p);
      expect(freePageCount(m)).toBe(free0);
    }
  });

  it('ends validate-clean after a random single-CPU run', () => {
    for (const seed of [4, 5, 6]) {
      const m = machine(1);
      const pool = mpCreatePool(m, PAGE, 0);
      const ledger = new Ledger();
      const r = runScheduled(
        [mpWorkload(m, pool, 0, { ops: 1500, maxHeld: 20 }, new Rng(seed, 0), ledger)],
        new RandomStrategy(seed),
      );
      expect(r.outcome, r.message).toBe('ok');
      expect(ledger.problems).toEqual([]);
      expect(sched.validate(m, pool).messages).toEqual([]);
    }
  });
});
