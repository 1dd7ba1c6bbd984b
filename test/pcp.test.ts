// The per-CPU page lists, one path at a time, in free-running form and as CPU 0 (or 1):
// what the kernel's rmqueue_pcplist(), rmqueue_bulk(), free_unref_page(),
// free_pcppages_bulk() and the drains do to count, the lists and the zone, per profile.
import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { drainAllPages, drainPages } from '../src/mm/pcp.fast.js';
import { pagesetHighBatch, pcpOrders, zoneBatchsize, zoneWatermarks } from '../src/mm/pcp_setup.js';
import { validateZones } from '../src/mm/zone_validate.js';
import { freePageCount, nrFree } from '../src/report/buddyinfo.js';
import { pcpPageCount } from '../src/report/pcp.js';
import { thisCpu } from '../src/sched/this_cpu.js';
import { create, cpuOnlineWord, type Machine, nodeOff, pageOff, pcpOff } from '../src/shm/machine.js';
import { DEFAULT_CONFIG } from '../src/config.js';
import { GLOBAL, NIL, NODE, PAGE, PCP, PCP_STATS, PG, PS } from '../src/shm/structs.js';
import { expectRefused } from './helpers.js';

const MiB = 1024 * 1024;

/** Run `f` as CPU `cpu` (what a worker or the scheduler does for its CPU's code). */
function asCpu<T>(cpu: number, f: () => T): T {
  const outside = thisCpu.id;
  thisCpu.id = cpu;
  try {
    return f();
  } finally {
    thisCpu.id = outside;
  }
}

const machine = (cfg: Partial<MachineConfig>): Machine => create({ cpus: 1, memory: 64 * MiB, ...cfg });
const pcpWord = (m: Machine, field: number, cpu = 0, node = 0): number => m.u32[pcpOff(m, node, cpu) + field];
const stat = (m: Machine, s: keyof typeof PS, cpu = 0, node = 0): number => pcpWord(m, PCP.stat + PS[s], cpu, node);
const zoneFree = (m: Machine, node = 0): number => m.u32[nodeOff(m, node) + NODE.freePages];
/** The pfns on a pcp list, head first. */
function list(m: Machine, pindex: number, cpu = 0, node = 0): number[] {
  const out: number[] = [];
  for (let pfn = pcpWord(m, PCP.head + pindex, cpu, node); pfn !== NIL; pfn = m.u32[pageOff(m, pfn) + PAGE.lruNext])
    out.push(pfn);
  return out;
}
const alloc = (m: Machine, order = 0, cpu = 0): number => asCpu(cpu, () => allocPages(m, 0, order, cpu));
const free = (m: Machine, pfn: number, order = 0, cpu = 0): void => asCpu(cpu, () => freePages(m, pfn, order));

describe('pageset sizing, as each kernel sizes it at boot', () => {
  it('zone_batchsize(): ~0.1% of the zone capped at 1 MiB, /4, clamped to 2^n - 1', () => {
    expect(zoneBatchsize(16384, 4096)).toBe(3); // 64 MiB: 16 / 4 = 4 -> rounddown_pow_of_two(6) - 1
    expect(zoneBatchsize(262144, 4096)).toBe(63); // 1 GiB: 256 (the 1 MiB cap) / 4 = 64 -> 64 - 1
    expect(zoneBatchsize(4095, 4096)).toBe(0); // under 4096 pages: 1 -> rounddown_pow_of_two(1) - 1
    expect(zoneBatchsize(16384, 65536)).toBe(3); // 1 MiB of 64 KiB pages caps at 16, /4 = 4
  });

  it("5.4: high = 6 * batch; 6.6: the low watermark split over the node's CPUs, at least 4 * batch", () => {
    expect(pagesetHighBatch({ ...DEFAULT_CONFIG, memory: 64 * MiB, profile: '5.4' }, 0)).toEqual({ high: 18, batch: 3 });
    // min_free_kbytes = sqrt(65536 KiB * 16) = 1024 -> min 256 pages, low = 256 + max(64, 16)
    expect(zoneWatermarks({ ...DEFAULT_CONFIG, memory: 64 * MiB })).toEqual({ min: 256, low: 320, high: 384 });
    expect(pagesetHighBatch({ ...DEFAULT_CONFIG, memory: 64 * MiB, cpus: 2, profile: '6.6' }, 0)).toEqual({
      high: 160,
      batch: 3,
    });
    // two nodes of two CPUs: each zone's low watermark is split over its own two CPUs
    const numa = { ...DEFAULT_CONFIG, memory: 128 * MiB, cpus: 4, nodes: 2, profile: '6.6' as const };
    expect(zoneWatermarks(numa)).toEqual({ min: 181, low: 226, high: 271 });
    expect(pagesetHighBatch(numa, 1)).toEqual({ high: 113, batch: 3 });
    // a tiny zone: 5.4 batch 0 means high 0 (nothing stays on the list), 6.6 keeps batch 1
    expect(pagesetHighBatch({ ...DEFAULT_CONFIG, memory: MiB, profile: '5.4' }, 0)).toEqual({ high: 0, batch: 1 });
    expect(pagesetHighBatch({ ...DEFAULT_CONFIG, memory: MiB, cpus: 4, profile: '6.6' }, 0)).toEqual({ high: 10, batch: 1 });
    expect(pcpOrders({ ...DEFAULT_CONFIG, profile: '5.4' })).toEqual([0]);
    expect(pcpOrders({ ...DEFAULT_CONFIG, profile: '6.6' })).toEqual([0, 1, 2, 3, 9]);
    expect(pcpOrders({ ...DEFAULT_CONFIG, profile: '6.6', pageSize: 16384 })).toEqual([0, 1, 2, 3, 7]);
  });

  it('create() writes them into every pageset, with empty lists', () => {
    const m = create({ cpus: 2, nodes: 2, memory: 64 * MiB, profile: '6.6' });
    for (const node of [0, 1])
      for (const cpu of [0, 1]) {
        expect(pcpWord(m, PCP.count, cpu, node)).toBe(0);
        expect(pcpWord(m, PCP.batch, cpu, node)).toBe(1); // 8192 pages: 8 / 4 = 2 -> rounddown_pow_of_two(3) - 1
        expect(pcpWord(m, PCP.high, cpu, node)).toBe(pagesetHighBatch(m.cfg, node).high);
        for (let i = 0; i < 13; i++) expect(pcpWord(m, PCP.head + i, cpu, node)).toBe(NIL);
      }
  });
});

describe.each(['5.4', '6.6'] as const)("profile %s: order 0 through CPU 0's lists", (profile) => {
  it('refill by batch: an empty list takes batch pages from the zone in one go, in address order', () => {
    const m = machine({ profile });
    const before = zoneFree(m);
    const pfn = alloc(m);
    expect(pfn).toBe(1);
    expect(zoneFree(m)).toBe(before - 3);
    expect(list(m, 0)).toEqual([2, 3]); // list_add_tail() in rmqueue_bulk(): the rest in order
    expect(pcpWord(m, PCP.count)).toBe(2);
    expect([stat(m, 'refill'), stat(m, 'refill_pages'), stat(m, 'alloc')]).toEqual([1, 3, 1]);
    expect(validateZones(m)).toEqual([]);
  });

  it('hit: the next allocations come off the list, the zone untouched', () => {
    const m = machine({ profile });
    alloc(m);
    const zone = zoneFree(m);
    const buddy = nrFree(m, 0);
    expect([alloc(m), alloc(m)]).toEqual([2, 3]);
    expect(zoneFree(m)).toBe(zone);
    expect(nrFree(m, 0)).toEqual(buddy);
    expect(pcpWord(m, PCP.count)).toBe(0);
    expect([stat(m, 'refill'), stat(m, 'alloc')]).toEqual([1, 3]);
    // an allocated block from the list is a block like any other
    expect(m.u32[pageOff(m, 2) + PAGE.flags]).toBe(PG.head);
    expect(freePageCount(m)).toBe(m.pagesPerNode - 3);
  });

  it('free to the list: the page goes on the head, PG_pcp, free but not in the zone', () => {
    const m = machine({ profile });
    const a = alloc(m);
    const zone = zoneFree(m);
    free(m, a);
    expect(list(m, 0)).toEqual([a, 2, 3]);
    expect(m.u32[pageOff(m, a) + PAGE.flags]).toBe(PG.pcp);
    expect(zoneFree(m)).toBe(zone);
    expect(pcpWord(m, PCP.count)).toBe(3);
    expect(freePageCount(m)).toBe(m.pagesPerNode);
    expect(stat(m, 'free')).toBe(1);
    expect(alloc(m)).toBe(a); // LIFO: the page just freed is the next one handed out
    expect(validateZones(m)).toEqual([]);
  });

  it('free over high sends a batch of the oldest pages back to the zone', () => {
    const m = machine({ profile });
    const high = pcpWord(m, PCP.high);
    const held = Array.from({ length: high + 4 }, () => alloc(m));
    expect(pcpWord(m, PCP.count)).toBeLessThan(3);
    const zone = zoneFree(m);
    for (const pfn of held.slice(0, high - 1 - pcpWord(m, PCP.count))) free(m, pfn);
    expect(pcpWord(m, PCP.count)).toBe(high - 1);
    expect(stat(m, 'free_high')).toBe(0);
    const oldest = list(m, 0).slice(-3);
    free(m, held[held.length - 1]);
    // count reached high: free_pcppages_bulk() of batch (3) from the tail
    expect(stat(m, 'free_high')).toBe(1);
    expect(pcpWord(m, PCP.count)).toBe(high - 3);
    expect(stat(m, 'bulk_free_pages')).toBe(3);
    expect(zoneFree(m)).toBe(zone + 3);
    for (const pfn of oldest) expect(list(m, 0)).not.toContain(pfn);
    expect(m.u32[pageOff(m, oldest[0]) + PAGE.flags] & PG.pcp).toBe(0);
    expect(validateZones(m)).toEqual([]);
  });

  it('drain_pages(): everything on the lists back to the zone, which merges it whole again', () => {
    const m = machine({ profile });
    const held = Array.from({ length: 10 }, () => alloc(m));
    for (const pfn of held) free(m, pfn);
    expect(pcpWord(m, PCP.count)).toBeGreaterThan(0);
    drainPages(m, 0);
    expect(pcpWord(m, PCP.count)).toBe(0);
    expect(stat(m, 'drain')).toBe(1);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]);
    expect(validateZones(m)).toEqual([]);
  });

  it('code that runs as no CPU (the main thread) uses the zone, never a pageset', () => {
    const m = machine({ profile });
    const pfn = allocPages(m, 0, 0, 0);
    expect(pcpWord(m, PCP.count)).toBe(0);
    expect(zoneFree(m)).toBe(m.pagesPerNode - 1);
    freePages(m, pfn, 0);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
    expect(PCP_STATS.map((s) => stat(m, s))).toEqual(PCP_STATS.map(() => 0));
  });

  it('--no-pcp (pcp: false): CPU code goes to the zone too, and the pagesets are the boot pageset', () => {
    const m = machine({ profile, pcp: false });
    const pfn = alloc(m);
    expect(zoneFree(m)).toBe(m.pagesPerNode - 1);
    free(m, pfn);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
    expect(nrFree(m, 0)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]);
    expect([pcpWord(m, PCP.count), pcpWord(m, PCP.high), pcpWord(m, PCP.batch)]).toEqual([0, 0, 1]);
    expect(PCP_STATS.map((s) => stat(m, s))).toEqual(PCP_STATS.map(() => 0));
  });

  it('a bad free through the lists is refused and changes nothing: double free, wrong order, a tail', () => {
    const m = machine({ profile });
    const a = alloc(m);
    const big = alloc(m, 4);
    free(m, a);
    asCpu(0, () => {
      expectRefused(m, () => freePages(m, a, 0), 'EBADFREE', 'page is free');
      expectRefused(m, () => freePages(m, big, 0), 'EBADFREE', 'allocated with order 4');
      expectRefused(m, () => freePages(m, big + 1, 0), 'EBADFREE', 'not its head');
    });
    expect(validateZones(m)).toEqual([]);
  });

  it("each CPU has its own lists, and a page freed by another CPU goes on that CPU's", () => {
    const m = machine({ profile, cpus: 2 });
    const a = alloc(m, 0, 0);
    free(m, a, 0, 1);
    expect(list(m, 0, 1)).toEqual([a]);
    expect(pcpWord(m, PCP.count, 1)).toBe(1);
    expect(alloc(m, 0, 1)).toBe(a);
    expect(validateZones(m)).toEqual([]);
  });
});

describe('profile 5.4 keeps only order 0', () => {
  it('an order-1 block goes straight to and from the zone', () => {
    const m = machine({ profile: '5.4' });
    const pfn = alloc(m, 1);
    expect(pcpWord(m, PCP.count)).toBe(0);
    free(m, pfn, 1);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });

  it('a tiny zone has high 0: every free goes back at once (batch 1)', () => {
    const m = machine({ profile: '5.4', memory: 8 * MiB });
    const pfn = alloc(m);
    expect(pcpWord(m, PCP.count)).toBe(0); // the refill of 1 was handed out
    free(m, pfn);
    expect(pcpWord(m, PCP.count)).toBe(0);
    expect([stat(m, 'free'), stat(m, 'free_high'), stat(m, 'bulk_free_pages')]).toEqual([1, 1, 1]);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });
});

describe('profile 6.6: high orders, free_factor, pcp->lock', () => {
  const m66 = (cfg: Partial<MachineConfig> = {}) => machine({ profile: '6.6', ...cfg });

  it('orders 1..3 have lists of their own; a refill takes batch >> order blocks, at least 2', () => {
    const m = m66();
    const pfn = alloc(m, 3); // pindex 9
    expect(list(m, 9)).toHaveLength(1); // max(3 >> 3, 2) = 2 refilled, one handed out
    expect(pcpWord(m, PCP.count)).toBe(8);
    expect(m.u32[pageOff(m, pfn) + PAGE.private]).toBe(3);
    free(m, pfn, 3);
    expect(list(m, 9)).toHaveLength(2);
    expect(pcpWord(m, PCP.count)).toBe(16);
    expect(validateZones(m)).toEqual([]);
  });

  it('the THP order (9) has the last list: a refill of 2 blocks puts 1024 pages on it', () => {
    const m = m66();
    const pfn = alloc(m, 9);
    expect(list(m, 12)).toHaveLength(1);
    expect(pcpWord(m, PCP.count)).toBe(512);
    // far over high (320): the next free sends pages back, the freeing list's first: 3
    // order-0 pages (nr_pcp_free() = batch), and the THP block stays
    const a = alloc(m);
    free(m, a);
    expect(stat(m, 'free_high')).toBe(1);
    expect(pcpWord(m, PCP.count)).toBe(512);
    // freeing the THP block asks for 6 pages from its own list: one whole block of 512 goes
    free(m, pfn, 9);
    expect(stat(m, 'bulk_free_pages')).toBe(3 + 512);
    expect(pcpWord(m, PCP.count)).toBe(512);
    expect(list(m, 12)).toHaveLength(1);
    expect(validateZones(m)).toEqual([]);
    drainPages(m, 0);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });

  it('free_factor: bulk frees double while frees follow frees, an allocation halves it', () => {
    const m = m66(); // high 320, batch 3
    const held = Array.from({ length: 400 }, () => alloc(m));
    expect(pcpWord(m, PCP.freeFactor)).toBe(0);
    const freedAt: number[] = [];
    let last = 0;
    for (const pfn of held) {
      free(m, pfn);
      if (stat(m, 'bulk_free_pages') !== last) freedAt.push(stat(m, 'bulk_free_pages') - last);
      last = stat(m, 'bulk_free_pages');
    }
    // nr_pcp_free(): batch << free_factor, clamped to [batch, high - batch]
    expect(freedAt.slice(0, 5)).toEqual([3, 6, 12, 24, 48]);
    const factor = pcpWord(m, PCP.freeFactor);
    expect(factor).toBeGreaterThan(2);
    alloc(m);
    expect(pcpWord(m, PCP.freeFactor)).toBe(factor >> 1);
    expect(validateZones(m)).toEqual([]);
  });

  it('free_high: an order-1..3 free while free_factor > 0 empties every list', () => {
    const m = m66();
    const small = Array.from({ length: 330 }, () => alloc(m));
    const o2 = alloc(m, 2);
    for (const pfn of small) free(m, pfn); // reaches high: free_factor > 0
    expect(pcpWord(m, PCP.freeFactor)).toBeGreaterThan(0);
    expect(pcpWord(m, PCP.count)).toBeGreaterThan(0);
    free(m, o2, 2);
    expect(pcpWord(m, PCP.count)).toBe(0);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });

  it('a trylock that fails (a drain holds pcp->lock) sends the allocation and the free to the zone', () => {
    const m = m66();
    const a = alloc(m);
    const count = pcpWord(m, PCP.count);
    m.u32[pcpOff(m, 0, 0) + PCP.lock] = 1; // held by a drain on another CPU
    const zone = zoneFree(m);
    const b = alloc(m);
    expect(b).not.toBe(0);
    expect(zoneFree(m)).toBe(zone - 1);
    free(m, a);
    expect(zoneFree(m)).toBe(zone);
    expect(pcpWord(m, PCP.count)).toBe(count);
    expect(stat(m, 'lock_fail')).toBe(2);
    m.u32[pcpOff(m, 0, 0) + PCP.lock] = 0;
    free(m, b);
    expect(validateZones(m)).toEqual([]);
  });
});

describe('drains on demand', () => {
  it("6.6 drain_all_pages() from CPU 1 drains CPU 0's lists itself, under their lock", () => {
    const m = machine({ profile: '6.6', cpus: 2 });
    for (const pfn of Array.from({ length: 5 }, () => alloc(m))) free(m, pfn);
    const onList = pcpWord(m, PCP.count);
    expect(onList).toBeGreaterThan(0);
    asCpu(1, () => drainAllPages(m, 1));
    expect(pcpPageCount(m)).toBe(0);
    expect(stat(m, 'drain')).toBe(1);
    expect(stat(m, 'bulk_free_pages')).toBe(onList);
    expect(m.u32[pcpOff(m, 0, 0) + PCP.lock]).toBe(0);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });

  it('5.4 drain_all_pages() drains its own lists and those of a CPU whose program has ended', () => {
    const m = machine({ profile: '5.4', cpus: 2 });
    for (const cpu of [0, 1]) for (const pfn of Array.from({ length: 5 }, () => alloc(m, 0, cpu))) free(m, pfn, 0, cpu);
    expect(m.u32[cpuOnlineWord(m, 0)]).toBe(0);
    asCpu(1, () => drainAllPages(m, 1));
    expect(pcpPageCount(m)).toBe(0);
    expect([stat(m, 'drain', 0), stat(m, 'drain', 1)]).toEqual([1, 1]);
    expect(zoneFree(m)).toBe(m.pagesPerNode);
  });

  it('a drain already under way makes another return at once (pcpu_drain_mutex is only trylocked)', () => {
    const m = machine({ profile: '6.6', cpus: 2 });
    for (const pfn of Array.from({ length: 5 }, () => alloc(m))) free(m, pfn);
    const count = pcpWord(m, PCP.count);
    m.u32[GLOBAL.pcpDrainMutex] = 1;
    asCpu(1, () => drainAllPages(m, 1));
    expect(pcpWord(m, PCP.count)).toBe(count);
    m.u32[GLOBAL.pcpDrainMutex] = 0;
    asCpu(1, () => drainAllPages(m, 1));
    expect(pcpWord(m, PCP.count)).toBe(0);
  });

  it("a failed allocation does not drain other CPUs' lists (nothing is reclaimable)", () => {
    const m = machine({ profile: '6.6', cpus: 2, memory: 2 * MiB });
    const held: number[] = [];
    for (let pfn = alloc(m, 0, 1); pfn !== 0; pfn = alloc(m, 0, 1)) held.push(pfn);
    free(m, held.pop() as number, 0, 1);
    expect(pcpWord(m, PCP.count, 1)).toBe(1);
    expect(alloc(m, 0, 0)).toBe(0);
    expect(pcpWord(m, PCP.count, 1)).toBe(1);
    expect(alloc(m, 0, 1)).not.toBe(0); // the page is still there for its own CPU
  });
});

describe('validateZones with per-CPU lists', () => {
  const filled = (): Machine => {
    const m = machine({ profile: '6.6' });
    for (const pfn of Array.from({ length: 6 }, () => alloc(m))) free(m, pfn);
    expect(validateZones(m)).toEqual([]);
    return m;
  };

  it('a count that disagrees with the lists', () => {
    const m = filled();
    m.u32[pcpOff(m, 0, 0) + PCP.count]++;
    expect(validateZones(m)).toEqual([expect.stringMatching(/pcp count == \d+ but Σ len\(lists\[pindex\]\) << order == \d+/)]);
  });

  it('a page on a list that is not PG_pcp, and a tail that is not the last page', () => {
    const m = filled();
    const [first] = list(m, 0);
    m.u32[pageOff(m, first) + PAGE.flags] = PG.buddy;
    m.u32[pcpOff(m, 0, 0) + PCP.tail] = first;
    const errors = validateZones(m);
    expect(errors).toContainEqual(expect.stringMatching(new RegExp(`pfn ${first} on the list is not a free block of order 0`)));
    expect(errors).toContainEqual(expect.stringMatching(/tail == \d+ but the list ends at \d+/));
  });

  it('a page that is in no allocated block and on no list is lost', () => {
    const m = filled();
    const held = alloc(m);
    m.u32[pageOff(m, held) + PAGE.flags] = 0; // its allocation forgotten
    expect(validateZones(m)).toEqual(['node 0: 1 pages are neither free (buddy or pcp) nor in an allocated block']);
  });

  it('an allocated page that is also on a pcp list is in two places', () => {
    const m = filled();
    const held = alloc(m);
    // link it in front of the list, as a free that forgot to take it would
    const head = pcpWord(m, PCP.head);
    m.u32[pageOff(m, held) + PAGE.lruNext] = head;
    m.u32[pageOff(m, head) + PAGE.lruPrev] = held;
    m.u32[pcpOff(m, 0, 0) + PCP.head] = held;
    m.u32[pcpOff(m, 0, 0) + PCP.count]++;
    const errors = validateZones(m);
    expect(errors).toContainEqual(expect.stringMatching(new RegExp(`pfn ${held} on the list is not a free block`)));
    expect(errors).toContainEqual('node 0: 1 pages are in two places at once');
  });
});

describe('SlabError is the only thing a bad free throws', () => {
  it('through the lists and through the zone alike', () => {
    const m = machine({ profile: '6.6' });
    expect(() => free(m, 1)).toThrow(SlabError);
    expect(() => freePages(m, 1, 0)).toThrow(SlabError);
  });
});
