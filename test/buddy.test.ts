import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { buddyinfoText, freePageCount, nrFree } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import {
  addrToPfn,
  create,
  type Machine,
  nodeOff,
  nodeStartPfn,
  pageOff,
  pfnNode,
  pfnToAddr,
  validAddr,
} from '../src/shm/machine.js';
import { MAX_ORDER, NIL, NODE, PAGE, PG } from '../src/shm/structs.js';
import { digest, expectRefused } from './helpers.js';

const MiB = 1024 * 1024;
const PAGE_4K = 4096;
/** 1603 = 1024 + 512 + 64 + 2 + 1: a node size that is not a power of two. */
const ODD_PAGES = 1603;
const ODD_COUNTS = [1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1];

const total = (m: Machine) => m.cfg.nodes * m.pagesPerNode;

/** The /proc/buddyinfo line of one node, from known counts. */
const line = (node: number, counts: number[]) =>
  `Node ${node}, zone   Normal ${counts.map((n) => `${String(n).padStart(6)} `).join('')}\n`;

/** Every zone invariant of structs.ts, walked from the lists. */
function checkZones(m: Machine): void {
  for (let node = 0; node < m.cfg.nodes; node++) {
    const z = nodeOff(m, node);
    const start = m.u32[z + NODE.startPfn];
    const nr = m.u32[z + NODE.nrPages];
    expect(start).toBe(nodeStartPfn(m, node));
    expect(nr).toBe(m.pagesPerNode);
    expect(m.u32[z + NODE.lock]).toBe(0);
    let sum = 0;
    for (let k = 0; k < MAX_ORDER; k++) {
      let len = 0;
      let prev = NIL;
      for (let pfn = m.u32[z + NODE.freeHead + k]; pfn !== NIL; pfn = m.u32[pageOff(m, pfn) + PAGE.lruNext]) {
        const p = pageOff(m, pfn);
        expect(m.u32[p + PAGE.flags]).toBe(PG.buddy);
        expect(m.u32[p + PAGE.private]).toBe(k);
        expect(m.u32[p + PAGE.lruPrev]).toBe(prev);
        expect(pfn >= start && pfn + (1 << k) <= start + nr).toBe(true);
        expect((pfn - start) % (1 << k)).toBe(0);
        prev = pfn;
        if (++len > nr) throw new Error('free list loops');
      }
      expect(m.u32[z + NODE.nrFree + k]).toBe(len);
      sum += len << k;
    }
    expect(m.u32[z + NODE.freePages]).toBe(sum);
  }
}

describe('address and page mapping', () => {
  it('pfnToAddr and addrToPfn round-trip over every pfn, for each page size', () => {
    for (const pageSize of [4096, 16384, 65536]) {
      const m = create({ memory: 8 * MiB, pageSize });
      for (let pfn = 0; pfn < m.totalPfns; pfn++) {
        const addr = pfnToAddr(m, pfn);
        if (addr !== pfn * pageSize || addrToPfn(m, addr) !== pfn || addrToPfn(m, addr + pageSize - 1) !== pfn) {
          expect.fail(`pageSize ${pageSize}, pfn ${pfn}: addr ${addr}`);
        }
      }
    }
  });

  it('address 0 is the null page: reserved, not a valid address', () => {
    const m = create({ memory: MiB });
    expect(pfnToAddr(m, 0)).toBe(0);
    expect(addrToPfn(m, 0)).toBe(0);
    expect(m.u32[pageOff(m, 0) + PAGE.flags]).toBe(PG.reserved);
    expect(validAddr(m, 0)).toBe(false);
    expect(validAddr(m, 8)).toBe(false);
    expect(validAddr(m, PAGE_4K - 1)).toBe(false);
  });

  it('validAddr bounds', () => {
    const m = create({ memory: MiB });
    const end = m.totalPfns * PAGE_4K;
    expect(validAddr(m, PAGE_4K)).toBe(true);
    expect(validAddr(m, PAGE_4K + 4)).toBe(true);
    expect(validAddr(m, end - 1)).toBe(true);
    expect(validAddr(m, end)).toBe(false);
    expect(validAddr(m, -1)).toBe(false);
    expect(validAddr(m, PAGE_4K + 0.5)).toBe(false);
    expect(validAddr(m, Number.NaN)).toBe(false);
    expect(validAddr(m, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('pfnNode maps each node range to its node', () => {
    const m = create({ cpus: 4, nodes: 4, memory: 4 * MiB });
    for (let node = 0; node < 4; node++) {
      const start = nodeStartPfn(m, node);
      expect(start).toBe(1 + node * m.pagesPerNode);
      expect(pfnNode(m, start)).toBe(node);
      expect(pfnNode(m, start + m.pagesPerNode - 1)).toBe(node);
    }
    expect(nodeStartPfn(m, 4)).toBe(m.totalPfns);
  });

  it('allocPages never returns pfn 0 while memory lasts, and every pfn once', () => {
    const m = create({ cpus: 2, nodes: 2, memory: 2 * MiB });
    const seen = new Set<number>();
    for (let node = 0; node < 2; node++) {
      for (let i = 0; i < m.pagesPerNode; i++) {
        const pfn = allocPages(m, node, 0, 0);
        if (pfn === 0 || seen.has(pfn)) expect.fail(`node ${node}, allocation ${i}: pfn ${pfn}`);
        seen.add(pfn);
      }
      expect(allocPages(m, node, 0, 0)).toBe(0);
    }
    expect(seen.size).toBe(m.totalPfns - 1);
    expect(Math.min(...seen)).toBe(1);
    expect(Math.max(...seen)).toBe(m.totalPfns - 1);
    expect(m.u32[pageOff(m, 0) + PAGE.flags]).toBe(PG.reserved);
  });
});

describe('split', () => {
  it('a fresh 4 MiB node of 4096-byte pages is one order-10 block', () => {
    const m = create({ memory: 4 * MiB });
    expect(m.pagesPerNode).toBe(1024);
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(freePageCount(m)).toBe(1024);
    checkZones(m);
  });

  it('one order-0 page splits the order-10 block: one free block at each order 0..9', () => {
    const m = create({ memory: 4 * MiB });
    const pfn = allocPages(m, 0, 0, 1);
    expect(pfn).toBe(1);
    expect(nrFree(m, 0)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(freePageCount(m)).toBe(1023);
    const p = pageOff(m, pfn);
    expect(m.u32[p + PAGE.flags]).toBe(PG.head);
    expect(m.u32[p + PAGE.private]).toBe(0);
    expect(m.u32[p + PAGE.owner]).toBe(2);
    // the upper halves are on the lists: order k at pfn 1 + 2^k
    const z = nodeOff(m, 0);
    for (let k = 0; k < 10; k++) expect(m.u32[z + NODE.freeHead + k]).toBe(1 + (1 << k));
    checkZones(m);
  });

  it('on a node of several max blocks, one order-10 block is split and the others stay', () => {
    const m = create({ memory: 64 * MiB });
    expect(nrFree(m, 0)[10]).toBe(16);
    allocPages(m, 0, 0, 0);
    expect(nrFree(m, 0)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 15]);
  });

  it('the smallest sufficient block is split, and order-k blocks are aligned and marked', () => {
    const m = create({ memory: 4 * MiB });
    const a = allocPages(m, 0, 3, 0); // splits 10 -> leaves 3..9
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]);
    const b = allocPages(m, 0, 3, 0); // takes the free order-3 block exactly
    expect(b).toBe(a + 8);
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]);
    for (const head of [a, b]) {
      expect((head - 1) % 8).toBe(0);
      expect(m.u32[pageOff(m, head) + PAGE.flags]).toBe(PG.head);
      expect(m.u32[pageOff(m, head) + PAGE.private]).toBe(3);
      for (let i = 1; i < 8; i++) {
        expect(m.u32[pageOff(m, head + i) + PAGE.flags]).toBe(PG.tail);
        expect(m.u32[pageOff(m, head + i) + PAGE.compoundHead]).toBe(head);
      }
    }
    checkZones(m);
  });

  it('a node size that is not a power of two starts as maximal aligned blocks', () => {
    const m = create({ memory: ODD_PAGES * PAGE_4K });
    expect(m.pagesPerNode).toBe(ODD_PAGES);
    expect(nrFree(m, 0)).toEqual(ODD_COUNTS);
    checkZones(m);
  });
});

describe('coalesce', () => {
  const shuffle = <T>(a: T[], rng: Rng): T[] => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };

  /** Random allocations and frees, then free everything in random order. */
  function churn(cfg: Partial<MachineConfig>, seed: number) {
    const m = create(cfg);
    const fresh = create(cfg);
    const rng = new Rng(seed);
    const owner = new Int32Array(m.totalPfns).fill(-1); // which held block covers each pfn
    const held: Array<[number, number]> = [];
    let heldPages = 0;
    for (let step = 0; step < 1500; step++) {
      if (held.length === 0 || rng.float() < 0.6) {
        const order = rng.float() < 0.85 ? rng.below(4) : rng.below(MAX_ORDER);
        const node = rng.below(m.cfg.nodes);
        const pfn = allocPages(m, node, order, rng.below(m.cfg.cpus));
        if (pfn === NIL) continue;
        if (pfnNode(m, pfn) !== node || (pfn - nodeStartPfn(m, node)) % (1 << order) !== 0) {
          expect.fail(`seed ${seed}: order ${order} on node ${node} gave pfn ${pfn}`);
        }
        for (let i = 0; i < 1 << order; i++) {
          if (owner[pfn + i] !== -1) expect.fail(`seed ${seed}: pfn ${pfn + i} handed out twice`);
          owner[pfn + i] = pfn;
        }
        held.push([pfn, order]);
        heldPages += 1 << order;
      } else {
        const [pfn, order] = held.splice(rng.below(held.length), 1)[0];
        freePages(m, pfn, order);
        for (let i = 0; i < 1 << order; i++) owner[pfn + i] = -1;
        heldPages -= 1 << order;
      }
      if (freePageCount(m) + heldPages !== total(m)) expect.fail(`seed ${seed}, step ${step}: pages lost`);
    }
    checkZones(m);
    expect(held.length).toBeGreaterThan(0);
    for (const [pfn, order] of shuffle(held, rng)) freePages(m, pfn, order);
    return { m, fresh };
  }

  it.each([1, 2, 3, 4, 5])('after freeing everything the free areas are maximal again (2 odd-sized nodes, seed %i)', (seed) => {
    const { m, fresh } = churn({ cpus: 2, nodes: 2, memory: 2 * ODD_PAGES * PAGE_4K }, seed);
    for (let node = 0; node < 2; node++) {
      expect(nrFree(m, node)).toEqual(nrFree(fresh, node));
      expect(nrFree(m, node)).toEqual(ODD_COUNTS);
    }
    expect(freePageCount(m)).toBe(total(m));
    checkZones(m);
  });

  it.each([6, 7, 8])('on single-block nodes the machine is bit-identical to a fresh one afterwards (seed %i)', (seed) => {
    const { m, fresh } = churn({ cpus: 3, nodes: 2, memory: 8 * MiB }, seed);
    expect(freePageCount(m)).toBe(total(m));
    expect(digest(m)).toBe(digest(fresh));
  });

  it('a block merges with its buddy only when the buddy is free and of the same order', () => {
    const m = create({ memory: 4 * MiB });
    const a = allocPages(m, 0, 0, 0); // pfn 1
    const b = allocPages(m, 0, 0, 0); // pfn 2, a's buddy
    const c = allocPages(m, 0, 1, 0); // pfns 3-4
    expect([a, b, c]).toEqual([1, 2, 3]);
    freePages(m, a, 0); // buddy b is allocated: no merge
    expect(nrFree(m, 0).slice(0, 3)).toEqual([1, 0, 1]);
    freePages(m, b, 0); // merges with a into order 1; its buddy c is allocated
    expect(nrFree(m, 0).slice(0, 3)).toEqual([0, 1, 1]);
    freePages(m, c, 1); // merges all the way up
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    checkZones(m);
  });

  it('the last block of a node does not merge with a free block of the next node', () => {
    const m = create({ cpus: 2, nodes: 2, memory: 2 * ODD_PAGES * PAGE_4K });
    const first1 = nodeStartPfn(m, 1);
    // node 1: make its first page a free order-0 block (its buddy stays allocated); the
    // smaller blocks go first, so the order-10 block at its start is split last
    let taken = 0;
    while (allocPages(m, 1, 0, 0) !== first1) expect(++taken).toBeLessThan(ODD_PAGES);
    expect(taken).toBe(1 + 2 + 64 + 512);
    expect(allocPages(m, 1, 0, 0)).toBe(first1 + 1);
    freePages(m, first1, 0);
    // node 0: its last page, just below first1, is its lone order-0 block
    const last0 = allocPages(m, 0, 0, 0);
    expect(last0).toBe(first1 - 1);
    freePages(m, last0, 0);
    expect(nrFree(m, 0)).toEqual(ODD_COUNTS);
    expect(nrFree(m, 1)[0]).toBe(1);
    expect(m.u32[pageOff(m, first1) + PAGE.flags]).toBe(PG.buddy);
    expect(freePageCount(m)).toBe(total(m) - (1 + 2 + 64 + 512 + 1));
    checkZones(m);
  });

  it('blocks at the end of an odd-sized node do not merge past it', () => {
    const m = create({ memory: ODD_PAGES * PAGE_4K });
    const pfns = [];
    for (let p = allocPages(m, 0, 0, 0); p !== NIL; p = allocPages(m, 0, 0, 0)) pfns.push(p);
    expect(pfns.length).toBe(ODD_PAGES);
    for (const p of pfns.reverse()) freePages(m, p, 0);
    expect(nrFree(m, 0)).toEqual(ODD_COUNTS);
    checkZones(m);
  });
});

describe('buddyinfo', () => {
  it('exact text for a fresh 1-node machine', () => {
    const m = create({ memory: 4 * MiB });
    const expected = `Node 0, zone   Normal ${'     0 '.repeat(10)}     1 \n`;
    expect(buddyinfoText(m)).toBe(expected);
    expect(buddyinfoText(m)).toBe(line(0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
  });

  it('exact text after a split, and with counts of two digits', () => {
    const m = create({ memory: 4 * MiB });
    allocPages(m, 0, 0, 0);
    expect(buddyinfoText(m)).toBe(`Node 0, zone   Normal ${'     1 '.repeat(10)}     0 \n`);
    const big = create({ memory: 64 * MiB });
    expect(buddyinfoText(big)).toBe(line(0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]));
    expect(buddyinfoText(big).endsWith('    16 \n')).toBe(true);
  });

  it('exact text for a 2-node machine, one line per node', () => {
    const m = create({ cpus: 2, nodes: 2, memory: 2 * ODD_PAGES * PAGE_4K });
    expect(buddyinfoText(m)).toBe(line(0, ODD_COUNTS) + line(1, ODD_COUNTS));
    expect(buddyinfoText(m)).toBe(
      'Node 0, zone   Normal      1      1      0      0      0      0      1      0      0      1      1 \n' +
        'Node 1, zone   Normal      1      1      0      0      0      0      1      0      0      1      1 \n',
    );
    allocPages(m, 1, 0, 1); // takes the lone order-0 block of node 1
    expect(buddyinfoText(m)).toBe(line(0, ODD_COUNTS) + line(1, [0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1]));
  });
});

describe('out of memory', () => {
  it('allocPages returns 0 (never throws) when the node is exhausted, without changing state', () => {
    const m = create({ memory: MiB }); // 256 pages: one order-8 block
    expect(nrFree(m, 0)[8]).toBe(1);
    expect(allocPages(m, 0, 9, 0)).toBe(0);
    expect(allocPages(m, 0, 10, 0)).toBe(0);
    const all = allocPages(m, 0, 8, 0);
    expect(all).toBe(1);
    const before = digest(m);
    for (let order = 0; order < MAX_ORDER; order++) expect(allocPages(m, 0, order, 0)).toBe(0);
    expect(digest(m)).toBe(before);
    expect(freePageCount(m)).toBe(0);
    freePages(m, all, 8);
    expect(allocPages(m, 0, 8, 0)).toBe(1);
  });

  it('allocations succeed again after frees; fragmentation refuses larger orders', () => {
    const m = create({ memory: MiB });
    const pfns: number[] = [];
    for (let i = 0; i < 256; i++) pfns.push(allocPages(m, 0, 0, 0));
    expect(allocPages(m, 0, 0, 0)).toBe(0);
    // free every other page: 128 free pages, no two of them buddies
    for (let i = 0; i < 256; i += 2) freePages(m, pfns[i], 0);
    expect(freePageCount(m)).toBe(128);
    expect(nrFree(m, 0)[0]).toBe(128);
    expect(allocPages(m, 0, 1, 0)).toBe(0);
    const again = allocPages(m, 0, 0, 0);
    expect(again).not.toBe(0);
    expect(pfns.filter((_, i) => i % 2 === 0)).toContain(again);
    checkZones(m);
  });
});

describe('nodes', () => {
  it('allocPages takes pages from the asked node only, and freePages returns them there', () => {
    const m = create({ cpus: 4, nodes: 4, memory: 4 * MiB }); // 256 pages per node
    const pfns: number[] = [];
    for (let node = 0; node < 4; node++) {
      const pfn = allocPages(m, node, 3, node);
      expect(pfnNode(m, pfn)).toBe(node);
      expect(pfn).toBeGreaterThanOrEqual(nodeStartPfn(m, node));
      expect(pfn + 8).toBeLessThanOrEqual(nodeStartPfn(m, node) + m.pagesPerNode);
      expect(m.u32[pageOff(m, pfn) + PAGE.owner]).toBe(node + 1);
      pfns.push(pfn);
      for (let other = 0; other < 4; other++) {
        expect(m.u32[nodeOff(m, other) + NODE.freePages]).toBe(other <= node ? 248 : 256);
      }
    }
    freePages(m, pfns[2], 3);
    expect(nrFree(m, 2)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(m.u32[nodeOff(m, 1) + NODE.freePages]).toBe(248);
    checkZones(m);
  });

  it('an exhausted node gives 0 without falling back to another node', () => {
    const m = create({ cpus: 4, nodes: 4, memory: 4 * MiB });
    const whole = allocPages(m, 1, 8, 0);
    expect(pfnNode(m, whole)).toBe(1);
    expect(allocPages(m, 1, 0, 0)).toBe(0);
    expect(pfnNode(m, allocPages(m, 2, 0, 0))).toBe(2);
    freePages(m, whole, 8);
    expect(pfnNode(m, allocPages(m, 1, 0, 0))).toBe(1);
  });
});

describe('bad input', () => {
  const setup = () => {
    const m = create({ cpus: 2, nodes: 2, memory: 2 * MiB }); // 256 pages per node
    const block = allocPages(m, 0, 2, 0); // pfns 1..4
    const single = allocPages(m, 1, 0, 1);
    return { m, block, single };
  };

  it('freePages of a page that is not allocated', () => {
    const { m } = setup();
    // pfn 10 lies inside a free block of node 0: neither a head nor on a list
    expectRefused(m, () => freePages(m, 10, 0), 'EBADFREE', 'pfn 10', 'not allocated');
  });

  it('freePages of a free page (a free block head, and a double free)', () => {
    const { m, single } = setup();
    // after the order-2 allocation at 1..4, pfn 5 heads a free order-2 block
    expect(m.u32[pageOff(m, 5) + PAGE.flags]).toBe(PG.buddy);
    expectRefused(m, () => freePages(m, 5, 2), 'EBADFREE', 'pfn 5', 'free');
    freePages(m, single, 0);
    expectRefused(m, () => freePages(m, single, 0), 'EBADFREE', `pfn ${single}`);
  });

  it('freePages of a tail page', () => {
    const { m, block } = setup();
    for (let i = 1; i < 4; i++) {
      expectRefused(m, () => freePages(m, block + i, 0), 'EBADFREE', `pfn ${block + i}`, `block at pfn ${block}`);
      expectRefused(m, () => freePages(m, block + i, 2), 'EBADFREE', 'not its head');
    }
  });

  it('freePages with the wrong order', () => {
    const { m, block, single } = setup();
    for (const order of [0, 1, 3, 10]) {
      expectRefused(m, () => freePages(m, block, order), 'EBADFREE', `order ${order}`, 'allocated with order 2');
    }
    expectRefused(m, () => freePages(m, single, 1), 'EBADFREE', 'allocated with order 0');
  });

  it('freePages of pfn 0 or out of range', () => {
    const { m } = setup();
    for (const pfn of [0, -1, m.totalPfns, m.totalPfns + 100, 1.5, Number.NaN]) {
      expectRefused(m, () => freePages(m, pfn, 0), 'EBADFREE', 'outside memory', `1..${m.totalPfns - 1}`);
    }
  });

  it('freePages with an order out of range', () => {
    const { m, block } = setup();
    for (const order of [11, -1, 0.5]) expectRefused(m, () => freePages(m, block, order), 'EINVAL', `order ${order}`, '0..10');
  });

  it('allocPages with order 11 or a bad node', () => {
    const { m } = setup();
    for (const order of [11, 12, -1, 0.5, Number.NaN]) {
      expectRefused(m, () => allocPages(m, 0, order, 0), 'EINVAL', `order ${order}`, '0..10');
    }
    for (const node of [2, -1, 0.5, Number.NaN, 100]) {
      expectRefused(m, () => allocPages(m, node, 0, 0), 'EINVAL', `node ${node}`, '0..1');
    }
  });

  it('after refusals the allocator still works (locks released, state intact)', () => {
    const { m, block, single } = setup();
    // check the lock after each refusal: a lock left held would make the next call sleep forever
    const lockOf0 = nodeOff(m, 0) + NODE.lock;
    expect(() => freePages(m, block + 1, 0)).toThrow(SlabError);
    expect(m.u32[lockOf0]).toBe(0);
    expect(() => freePages(m, block, 1)).toThrow(SlabError);
    expect(m.u32[lockOf0]).toBe(0);
    expect(() => freePages(m, 10, 0)).toThrow(SlabError);
    expect(m.u32[lockOf0]).toBe(0);
    expect(() => allocPages(m, 0, 11, 0)).toThrow(SlabError);
    expect(m.u32[lockOf0]).toBe(0);
    freePages(m, block, 2);
    freePages(m, single, 0);
    expect(freePageCount(m)).toBe(total(m));
    expect(allocPages(m, 0, 8, 0)).toBe(1);
    checkZones(m);
  });
});
