// Bad calls into SLUB. Without consistency checks every one the simulator can tell is a
// clear SlabError with the machine bit-identical afterwards; with slub_debug=F the
// kernel's checks report it (counted as lib/slub_kunit.c counts) and drop the free.
// Plus the slot layouts and byte patterns of debug caches, the memory inspection API,
// and kmalloc's edges (size 0, sizes past the largest kmalloc cache).
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheFreeBulk } from '../src/mm/slub/bulk.fast.js';
import { kmemCacheCreate, kmemCacheDestroy, slubInit } from '../src/mm/slub/cache.js';
import { validateSlabCache } from '../src/mm/slub/debug_validate.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { dumpObject, readBytes, writeBytes } from '../src/mm/slub/inspect.js';
import { kfree, kmalloc, ZERO_SIZE_PTR } from '../src/mm/slub/kmalloc.fast.js';
import { cacheById, type KmemCache } from '../src/mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import {
  clearSlabReports,
  liveReporter,
  reportMark,
  resetSlabErrors,
  slabErrorCount,
  slabReports,
  slabReportsSince,
} from '../src/mm/slub/report.js';
import { type SlubOptions } from '../src/mm/slub/slub_options.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { leakedObjects } from '../src/mm/slub/cache.js';
import { create, type Machine, pageOff } from '../src/shm/machine.js';
import { PAGE, PG } from '../src/shm/structs.js';
import { digest, expectRefused } from './helpers.js';

const PROFILES: Profile[] = ['5.4', '6.6'];

function machine(profile: Profile, opts: SlubOptions = {}, cpus = 2): Machine {
  const m = create({ cpus, nodes: 1, memory: 16 << 20, profile });
  slubInit(m, opts);
  return m;
}

function cache(m: Machine, name: string, size: number, flags: string[] = ['no_merge']): KmemCache {
  return cacheById(m, kmemCacheCreate(m, name, size, { flags }));
}

describe.each(PROFILES)('misuse without debug flags is refused, state unchanged (profile %s)', (profile) => {
  it('bad addresses: 0, outside memory, a page that is not a slab, not an object start', () => {
    const m = machine(profile);
    const s = cache(m, 'plain', 256);
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(s, cpu, -1);
    expectRefused(m, () => kmemCacheFree(s, cpu, 0), 'EBADFREE', /outside simulated memory/);
    expectRefused(m, () => kmemCacheFree(s, cpu, 1 << 30), 'EBADFREE', /outside simulated memory/);
    expectRefused(m, () => kmemCacheFree(s, cpu, 3 * m.cfg.pageSize + 64), 'EBADFREE', /not a slab page/);
    expectRefused(m, () => kmemCacheFree(s, cpu, p + 8), 'EBADFREE', /not the start of an object/);
    expectRefused(m, () => kfree(cpu, p + 8), 'EBADFREE', /not the start of an object/);
    expectRefused(m, () => kfree(cpu, 1 << 30), 'EBADFREE', /outside simulated memory/);
    kmemCacheFree(s, cpu, p);
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
  });

  it("an object of another cache (cache_from_obj's check)", () => {
    const m = machine(profile);
    const a = cache(m, 'a', 256);
    const b = cache(m, 'b', 128);
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(b, cpu, -1);
    expectRefused(m, () => kmemCacheFree(a, cpu, p), 'EBADFREE', /wrong slab cache, object is from cache id/);
  });

  it('a double free of the object at the head of the freelist: on the fast path and on the slow path', () => {
    const m = machine(profile);
    const s = cache(m, 'plain', 256);
    const [c0, c1] = [makeCpu(m, 0), makeCpu(m, 1)];
    const p = slabAllocNode(s, c0, -1);
    kmemCacheFree(s, c0, p); // fast path: p heads CPU0's freelist
    expectRefused(m, () => kmemCacheFree(s, c0, p), 'EBADFREE', /double free/);
    const q = slabAllocNode(s, c0, -1);
    expect(q).toBe(p);
    kmemCacheFree(s, c1, q); // remote: q heads the slab's freelist
    expectRefused(m, () => kmemCacheFree(s, c1, q), 'EBADFREE', /double free/);
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
  });

  it('a double free through kfree and through kmem_cache_free_bulk is refused before the detached freelist is built', () => {
    const m = machine(profile);
    const s = cache(m, 'plain', 256);
    const [c0, c1] = [makeCpu(m, 0), makeCpu(m, 1)];
    const k = kmalloc(c0, 100);
    kfree(c0, k);
    expectRefused(m, () => kfree(c0, k), 'EBADFREE', /double free/);
    const [p, q, r] = [slabAllocNode(s, c0, -1), slabAllocNode(s, c0, -1), slabAllocNode(s, c0, -1)];
    kmemCacheFree(s, c0, p); // heads CPU0's freelist
    expectRefused(m, () => kmemCacheFreeBulk(s, c0, 2, [q, p]), 'EBADFREE', /double free/);
    kmemCacheFree(s, c1, q); // heads the slab's freelist
    expectRefused(m, () => kmemCacheFreeBulk(s, c1, 2, [r, q]), 'EBADFREE', /double free/);
    kmemCacheFreeBulk(s, c0, 1, [r]);
    expect(leakedObjects(s)).toEqual([]);
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
  });

  it('alloc and free on a destroyed cache', () => {
    const m = machine(profile);
    const s = cache(m, 'gone', 256);
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(s, cpu, -1);
    kmemCacheFree(s, cpu, p);
    kmemCacheDestroy(m, s.id);
    expectRefused(m, () => slabAllocNode(s, cpu, -1), 'EINVAL', /gone has been destroyed/);
    expectRefused(m, () => kmemCacheFree(s, cpu, p), 'EINVAL', /gone has been destroyed/);
    expectRefused(m, () => kmemCacheDestroy(m, s.id), 'EINVAL', /not live/);
  });

  it('kmalloc(0) is ZERO_SIZE_PTR, kfree of it and of NULL do nothing; large sizes come from the page allocator', () => {
    const m = machine(profile);
    const cpu = makeCpu(m, 0);
    const before = digest(m);
    expect(kmalloc(cpu, 0)).toBe(ZERO_SIZE_PTR);
    kfree(cpu, ZERO_SIZE_PTR);
    kfree(cpu, 0);
    expect(digest(m)).toBe(before);
    const big = kmalloc(cpu, 8193); // past kmalloc-8k: kmalloc_large(), an order-2 block
    expect(big % m.cfg.pageSize).toBe(0);
    const pg = pageOff(m, virtToHeadPfn(m, big));
    expect(m.u32[pg + PAGE.flags] & PG.slab).toBe(0);
    expect(m.u32[pg + PAGE.private]).toBe(2);
    expectRefused(m, () => kfree(cpu, big + m.cfg.pageSize), 'EBADFREE', /not a kmalloc'd address/);
    kfree(cpu, big);
    expect(kmalloc(cpu, 1 << 30)).toBe(0); // beyond MAX_ORDER: the page allocator fails it
    expectRefused(m, () => kmalloc(cpu, -1), 'EINVAL', /non-negative integer/);
  });

  it('a debug cache without F (Z only) refuses the same way', () => {
    const m = machine(profile);
    const s = cache(m, 'rz', 64, ['red_zone']);
    const t = cache(m, 'other', 64, ['red_zone']);
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(s, cpu, -1);
    const q = slabAllocNode(t, cpu, -1);
    expectRefused(m, () => kmemCacheFree(s, cpu, p + 8), 'EBADFREE', /not the start of an object/);
    expectRefused(m, () => kmemCacheFree(s, cpu, q), 'EBADFREE', /wrong slab cache/);
    kmemCacheFree(s, cpu, p);
    expectRefused(m, () => kmemCacheFree(s, cpu, p), 'EBADFREE', /double free/);
    expect(slabErrorCount(s)).toBe(0);
  });
});

describe.each(PROFILES)('with consistency checks (F) the kernel reports and drops the free (profile %s)', (profile) => {
  const setup = () => {
    const m = machine(profile);
    const s = cache(m, 'dbg', 64, ['consistency_checks', 'red_zone', 'poison', 'store_user']);
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(s, cpu, -1);
    const q = slabAllocNode(s, cpu, -1);
    clearSlabReports(m);
    return { m, s, cpu, p, q };
  };
  const bugs = (m: Machine) =>
    slabReports(m)
      .filter((r) => r.kind !== 'info')
      .map((r) => r.text);

  it('a double free: "Object already free", "Object at ... not freed": 2 errors, nothing freed', () => {
    const { m, s, cpu, p } = setup();
    kmemCacheFree(s, cpu, p);
    const live = leakedObjects(s).length;
    kmemCacheFree(s, cpu, p);
    expect(bugs(m)).toEqual(['BUG dbg: Object already free', `FIX dbg: Object at 0x${p.toString(16)} not freed`]);
    expect(slabErrorCount(s)).toBe(2);
    expect(leakedObjects(s).length).toBe(live);
    resetSlabErrors(s);
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
  });

  it('kmem_cache_free_bulk of an object already free (not at a freelist head) is refused up front', () => {
    const { m, s, cpu, p, q } = setup();
    const z = slabAllocNode(s, cpu, -1);
    kmemCacheFree(s, cpu, p);
    kmemCacheFree(s, cpu, z); // z now heads the slab's freelist, p is behind it
    expectRefused(m, () => kmemCacheFreeBulk(s, cpu, 2, [q, p]), 'EBADFREE', /double free/);
    expect(slabErrorCount(s)).toBe(0);
    kmemCacheFreeBulk(s, cpu, 1, [q]);
    expect(leakedObjects(s)).toEqual([]);
    expect(validateSlabCache(m, s.id)).toEqual({ errors: 0, messages: [] });
  });

  it('a pointer inside an object: "Invalid object pointer": 2 errors', () => {
    const { m, s, cpu, p } = setup();
    kmemCacheFree(s, cpu, p + 8);
    expect(bugs(m)).toEqual([
      `BUG dbg: Invalid object pointer 0x${(p + 8).toString(16)}`,
      `FIX dbg: Object at 0x${(p + 8).toString(16)} not freed`,
    ]);
    expect(slabErrorCount(s)).toBe(2);
  });

  it('a red zone clobbered while allocated: reported and restored at the free, which is dropped (3 errors)', () => {
    const { m, s, cpu, p } = setup();
    writeBytes(m, p - 1, [0]); // the last byte of the left red zone
    kmemCacheFree(s, cpu, p);
    const left = profile === '6.6' ? 'Left Redzone' : 'Redzone';
    expect(bugs(m)[0]).toBe(`BUG dbg: ${left} overwritten`);
    expect(bugs(m).at(-1)).toBe(`FIX dbg: Object at 0x${p.toString(16)} not freed`);
    expect(slabErrorCount(s)).toBe(3);
    expect(readBytes(m, p - 1, 1)[0]).toBe(0xcc);
    expect(dumpObject(m, p).allocated).toBe(true); // the kernel leaks it
  });

  it('an object of another cache: warned (uncounted); 6.6 frees it into its own cache, 5.4 rejects it', () => {
    const { m, s, cpu } = setup();
    const t = cache(m, 'plain256', 256);
    const x = slabAllocNode(t, cpu, -1);
    kmemCacheFree(s, cpu, x);
    expect(slabReports(m)[0]).toMatchObject({
      kind: 'warn',
      text: 'cache_from_obj: Wrong slab cache. dbg but object is from plain256',
    });
    if (profile === '6.6') {
      expect(slabErrorCount(s)).toBe(0);
      expect(dumpObject(m, x).allocated).toBe(false);
      expect(validateCache(t)).toEqual({ errors: 0, messages: [] });
    } else {
      // free_debug_processing(dbg, a slab of plain256): check_slab() with dbg's 400-byte
      // slots finds 16 objects where 10 fit, and 5.4 also reports the short count.
      expect(bugs(m).slice(1)).toEqual([
        'BUG dbg: objects 16 > max 10',
        'BUG dbg: Bulk freelist count(1) invalid(0)',
        `FIX dbg: Object at 0x${x.toString(16)} not freed`,
      ]);
      expect(slabErrorCount(s)).toBe(3);
      expect(dumpObject(m, x).allocated).toBe(true);
    }
  });

  if (profile === '6.6') {
    it('6.6: a double free into an emptied slab: "Slab has 0 allocated objects but 1 are to be freed"', () => {
      const { m, s, cpu, p, q } = setup();
      kmemCacheFree(s, cpu, p);
      kmemCacheFree(s, cpu, q);
      clearSlabReports(m);
      kmemCacheFree(s, cpu, q);
      expect(bugs(m)).toEqual([
        'BUG dbg: Slab has 0 allocated objects but 1 are to be freed',
        `FIX dbg: Object at 0x${q.toString(16)} not freed`,
      ]);
    });
  }
});

describe.each(PROFILES)('debug slot layout and byte patterns (profile %s)', (profile) => {
  it('FZPU on 64 bytes: red zones 0xcc/0xbb, poison 6b..a5, padding 0x5a, tracks; debug paths only', () => {
    const m = machine(profile);
    const s = cache(m, 'dbg', 64, ['consistency_checks', 'red_zone', 'poison', 'store_user']);
    expect([s.size, s.inuse, s.offset, s.redLeftPad]).toEqual(profile === '6.6' ? [160, 72, 72, 8] : [400, 72, 72, 8]);
    const cpu = makeCpu(m, 1);
    const p = slabAllocNode(s, cpu, -1);
    let d = dumpObject(m, p);
    expect(d.allocated).toBe(true);
    expect(d.leftRedzone).toEqual(Array(8).fill(0xcc));
    expect(d.bytes).toEqual([...Array(63).fill(0x6b), 0xa5]);
    expect(d.rightRedzone).toEqual(Array(8).fill(0xcc));
    expect(d.padding.every((b) => b === 0x5a)).toBe(true);
    expect(d.tracks?.alloc).toMatchObject({ addr: 1, cpu: 1, pid: 2 });
    expect(d.tracks?.free.addr).toBe(0);
    expect(d.lines[0]).toMatch(/Allocated in slab_alloc_node age=\d+ cpu=1 pid=2$/); // print_tracking()
    // the other objects of the fresh slab are free: inactive red zones
    const other = dumpObject(m, p === d.slot + 8 ? p + s.size : p - s.size);
    expect(other.allocated).toBe(false);
    expect(other.leftRedzone).toEqual(Array(8).fill(0xbb));
    kmemCacheFree(s, cpu, p);
    d = dumpObject(m, p);
    expect([d.allocated, d.leftRedzone?.[0], d.rightRedzone[7], d.tracks?.free.addr]).toEqual([false, 0xbb, 0xbb, 2]);
    expect(d.freePointer.valid).toBe(true);
    // every allocation and free of a debug cache took the slow path; 6.6 keeps no cpu slab
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
    expect(validateSlabCache(m, s.id)).toEqual({ errors: 0, messages: [] });
  });

  it('slub_debug applies to kmalloc caches; kmalloc() records its size on 6.6', () => {
    const m = machine(profile, { debug: 'FZPU' });
    const cpu = makeCpu(m, 0);
    const p = kmalloc(cpu, 40);
    const d = dumpObject(m, p);
    expect(d.cache).toBe('kmalloc-64');
    if (profile === '6.6') {
      expect(d.origSize).toBe(40);
      expect(d.bytes.slice(40)).toEqual(Array(24).fill(0xcc)); // kmalloc red zone
      writeBytes(m, p + 40, [1]);
      kfree(cpu, p); // check_object(SLUB_RED_ACTIVE) at the free: kmalloc Redzone
      expect(
        slabReports(m)
          .filter((r) => r.kind === 'bug')
          .map((r) => r.text),
      ).toEqual(['BUG kmalloc-64: kmalloc Redzone overwritten']);
    } else {
      expect(d.origSize).toBeNull();
      kfree(cpu, p);
      expect(validateCache(cacheById(m, 3))).toEqual({ errors: 0, messages: [] });
    }
  });
});

describe("this thread's SLUB log", () => {
  it('keeps the newest 10000 lines; marks stay valid across drops and clears', () => {
    const m = machine('6.6');
    const s = cache(m, 'logged', 64, ['red_zone', 'no_merge']);
    for (let i = 0; i < 25_000; i++) liveReporter.line(s, 'info', `line ${i}`);
    const kept = slabReports(m);
    expect(kept).toHaveLength(10_000);
    expect(kept.at(-1)?.text).toBe('line 24999');
    const mark = reportMark(m);
    expect(mark).toBe(25_000);
    liveReporter.line(s, 'warn', 'after the mark');
    expect(slabReportsSince(m, mark).map((r) => r.text)).toEqual(['after the mark']);
    clearSlabReports(m);
    expect(slabReports(m)).toHaveLength(0);
    liveReporter.line(s, 'info', 'after the clear');
    expect(slabReportsSince(m, mark).map((r) => r.text)).toEqual(['after the clear']);
  });
});

describe('memory inspection', () => {
  it('readBytes / writeBytes refuse addresses outside simulated memory', () => {
    const m = machine('6.6');
    const end = m.totalPfns * m.cfg.pageSize;
    expect(() => readBytes(m, 0, 4)).toThrow(/outside simulated memory/);
    expect(() => readBytes(m, end - 2, 4)).toThrow(/outside simulated memory/);
    expect(() => writeBytes(m, m.cfg.pageSize, [256])).toThrow(/not 0\.\.255/);
    writeBytes(m, m.cfg.pageSize, [1, 2, 3]);
    expect(Array.from(readBytes(m, m.cfg.pageSize, 3))).toEqual([1, 2, 3]);
    expect(() => dumpObject(m, m.cfg.pageSize)).toThrow(/not a slab page/);
  });
});
