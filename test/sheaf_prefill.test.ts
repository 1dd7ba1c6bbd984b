// The prefill API (6.18, 7.0): kmem_cache_prefill_sheaf() fast (the spare), slow (the
// barn or a new sheaf) and oversize, kmem_cache_alloc_from_sheaf() without fallback,
// kmem_cache_return_sheaf() fast (becomes the spare) and slow (refilled into the barn,
// or flushed when the barn is at its limit), kmem_cache_refill_sheaf().
import { describe, expect, it } from 'vitest';
import { SlabError } from '../src/errors.js';
import { GFP_KERNEL } from '../src/mm/slub/gfp.js';
import {
  kmemCacheAllocFromSheaf,
  kmemCachePrefillSheaf,
  kmemCacheRefillSheaf,
  kmemCacheReturnSheaf,
  kmemCacheSheafSize,
} from '../src/mm/slub/prefill.fast.js';
import { alloc, barn, expectClean, free, pcs, SHEAF_PROFILES, type SheafWorld, sheafWorld } from './sheaf_helpers.js';
import { track } from './slub_scenarios_helpers.js';

const C = 12;

const prefill = (w: SheafWorld, cpu: number, size: number) => kmemCachePrefillSheaf(w.s, w.cpu[cpu], GFP_KERNEL, size);
const takeAll = (w: SheafWorld, cpu: number, sheaf: number): number[] => {
  const out: number[] = [];
  for (let o = kmemCacheAllocFromSheaf(w.s, w.cpu[cpu], sheaf); o !== 0; o = kmemCacheAllocFromSheaf(w.s, w.cpu[cpu], sheaf))
    out.push(o);
  return out;
};

describe.each(SHEAF_PROFILES)('prefilled sheaves (profile %s)', (profile) => {
  it('fast: the spare is taken and refilled to the capacity; allocation from it has no fallback', () => {
    const w = sheafWorld(profile);
    const held = alloc(w, 0); // CPU0: main C - 1, spare the first (empty) main
    const spare = pcs(w, 0).spare;
    const d = track(w.s);
    const sheaf = prefill(w, 0, 5);
    expect(sheaf).toBe(spare?.addr);
    expect(d().cpu0).toMatchObject({ sheaf_prefill_fast: 1, sheaf_refill: C });
    expect(pcs(w, 0).spare).toBeNull();
    expect(kmemCacheSheafSize(w.s, sheaf)).toBe(C);
    const d2 = track(w.s);
    const got = takeAll(w, 0, sheaf);
    expect(new Set(got).size).toBe(C);
    expect(kmemCacheAllocFromSheaf(w.s, w.cpu[0], sheaf)).toBe(0); // no fallback
    expect(d2()).toEqual({}); // kmem_cache_alloc_from_sheaf() counts nothing
    kmemCacheReturnSheaf(w.s, w.cpu[0], GFP_KERNEL, sheaf);
    expectClean(w, [...held, ...got]);
  });

  it('slow: no spare, so the barn (BARN_GET for a full sheaf, BARN_GET_FAIL otherwise) or a new sheaf', () => {
    const w = sheafWorld(profile);
    let d = track(w.s);
    const first = prefill(w, 2, 5); // CPU2: no spare, barn empty: a new sheaf, refilled
    expect(d().cpu2).toMatchObject({ sheaf_prefill_slow: 1, barn_get_fail: 1, sheaf_alloc: 1, sheaf_refill: C });
    // Put a full sheaf in the barn: CPU0 frees 2C + 1 objects.
    const objs = alloc(w, 1, 2 * C + 1);
    free(w, 0, objs);
    expect(barn(w).full).toBe(1);
    d = track(w.s);
    const second = prefill(w, 3, 5);
    expect(d().cpu3).toEqual({ sheaf_prefill_slow: 1, barn_get: 1 }); // full already: no refill
    expect(barn(w).full).toBe(0);
    expect(kmemCacheSheafSize(w.s, second)).toBe(C);
    for (const [cpu, sh] of [
      [2, first],
      [3, second],
    ] as const) {
      kmemCacheReturnSheaf(w.s, w.cpu[cpu], GFP_KERNEL, sh);
    }
    expectClean(w, []);
  });

  it('oversize: more than the capacity is a sheaf of its own, bulk-filled, flushed and freed when returned', () => {
    const w = sheafWorld(profile);
    const d = track(w.s);
    const big = prefill(w, 0, 2 * C);
    expect(d().cpu0).toMatchObject({ sheaf_prefill_oversize: 1 });
    expect(d().cpu0?.sheaf_alloc).toBeUndefined();
    expect(kmemCacheSheafSize(w.s, big)).toBe(2 * C);
    const one = kmemCacheAllocFromSheaf(w.s, w.cpu[0], big);
    const d2 = track(w.s);
    kmemCacheReturnSheaf(w.s, w.cpu[0], GFP_KERNEL, big);
    expect(d2().cpu0).toMatchObject({ sheaf_flush: 2 * C - 1 });
    expect(d2().cpu0?.sheaf_return_fast).toBeUndefined();
    expect(pcs(w, 0).spare).toBeNull();
    expectClean(w, [one]);
  });

  it('return: fast when the CPU has no spare (a part-full sheaf becomes it); slow refills it into the barn, or flushes it at the limit', () => {
    const w = sheafWorld(profile);
    const a = prefill(w, 2, C);
    const taken = [kmemCacheAllocFromSheaf(w.s, w.cpu[2], a)];
    let d = track(w.s);
    kmemCacheReturnSheaf(w.s, w.cpu[2], GFP_KERNEL, a);
    expect(d()).toEqual({ cpu2: { sheaf_return_fast: 1 } });
    expect(pcs(w, 2).spare).toMatchObject({ addr: a, size: C - 1 });

    const b = prefill(w, 3, C);
    taken.push(kmemCacheAllocFromSheaf(w.s, w.cpu[3], b));
    const c = prefill(w, 3, C);
    d = track(w.s);
    kmemCacheReturnSheaf(w.s, w.cpu[3], GFP_KERNEL, b); // CPU3 has no spare: fast
    kmemCacheReturnSheaf(w.s, w.cpu[3], GFP_KERNEL, c); // now it has: slow, into the barn
    expect(d().cpu3).toMatchObject({ sheaf_return_fast: 1, sheaf_return_slow: 1, barn_put: 1 });
    expect(barn(w).full).toBe(1);

    // At MAX_FULL_SHEAVES the slow return flushes and frees the sheaf. CPU1's spare
    // (its first, empty main) is prefilled (fast); CPU0 frees until the barn has 10.
    const objs = alloc(w, 1, 12 * C);
    d = track(w.s);
    const sh = prefill(w, 1, C);
    expect(d().cpu1).toMatchObject({ sheaf_prefill_fast: 1 });
    let k = 0;
    while (barn(w).full < 10) free(w, 0, [objs[k++]]);
    expect(pcs(w, 0).spare?.size).toBe(C);
    d = track(w.s);
    kmemCacheReturnSheaf(w.s, w.cpu[0], GFP_KERNEL, sh);
    const delta = d();
    expect(Object.keys(delta)).toEqual(['cpu0']);
    expect(delta.cpu0).toMatchObject({ sheaf_return_slow: 1, sheaf_flush: C, sheaf_free: 1 });
    expect([delta.cpu0.barn_put, delta.cpu0.sheaf_refill, delta.cpu0.sheaf_return_fast]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(barn(w).full).toBe(10);
    taken.push(...objs.slice(k));
    expectClean(w, taken);
  });

  it('refill_sheaf: to the capacity when it suffices, else an oversize replacement (the old one returned)', () => {
    const w = sheafWorld(profile);
    const sh = prefill(w, 0, 3);
    const got: number[] = [];
    for (let i = 0; i < C - 2; i++) got.push(kmemCacheAllocFromSheaf(w.s, w.cpu[0], sh));
    expect(kmemCacheSheafSize(w.s, sh)).toBe(2);
    expect(kmemCacheRefillSheaf(w.s, w.cpu[0], GFP_KERNEL, sh, 5)).toBe(sh);
    expect(kmemCacheSheafSize(w.s, sh)).toBe(C); // "In practice we always refill to full sheaf's capacity."
    const d = track(w.s);
    const big = kmemCacheRefillSheaf(w.s, w.cpu[0], GFP_KERNEL, sh, 2 * C);
    expect(big).not.toBe(sh);
    expect(kmemCacheSheafSize(w.s, big)).toBe(2 * C);
    expect(d().cpu0).toMatchObject({ sheaf_prefill_oversize: 1, sheaf_return_fast: 1 });
    expect(pcs(w, 0).spare?.addr).toBe(sh);
    kmemCacheReturnSheaf(w.s, w.cpu[0], GFP_KERNEL, big);
    expectClean(w, got);
  });

  it("misuse: a word that is no sheaf of this cache, or the CPU's own spare, is refused", () => {
    const w = sheafWorld(profile);
    const [o] = alloc(w, 0);
    expect(() => kmemCacheAllocFromSheaf(w.s, w.cpu[0], o)).toThrow(SlabError);
    const spare = pcs(w, 0).spare?.addr ?? 0;
    expect(() => kmemCacheReturnSheaf(w.s, w.cpu[0], GFP_KERNEL, spare)).toThrow(/returned already/);
    expect(() => prefill(w, 0, 5000)).toThrow(/expected a size in 0\.\.1020/);
    expect(prefill(w, 0, 0)).toBe(0);
    expectClean(w, [o]);
  });
});
