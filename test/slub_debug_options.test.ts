// The boot options: slub_debug= in both profiles' syntax (setup_slub_debug(),
// parse_slub_debug_flags(), kmem_cache_flags()), and the freelist hardening
// (s->random, obfuscated free pointers) and randomisation (s->random_seq, shuffled new
// slabs) options, deterministic for a seed.
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { DEBUG_DEFAULT_FLAGS, SLAB_FLAGS } from '../src/mm/slub/geometry.js';
import { dumpObject } from '../src/mm/slub/inspect.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { slabErrorCount, slabReports } from '../src/mm/slub/report.js';
import { swab32 } from '../src/mm/slub/objects.js';
import { kmemCacheFlags, parseSlubDebug, type SlubOptions } from '../src/mm/slub/slub_options.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { Rng } from '../src/rng.js';
import { create, type Machine } from '../src/shm/machine.js';
import { KMEM_CACHE } from '../src/shm/structs.js';

const F = SLAB_FLAGS;
const FZPU = DEBUG_DEFAULT_FLAGS;

describe('slub_debug= parsing and kmem_cache_flags()', () => {
  it('6.6: bare, letters, cache lists, blocks, globs, "-", O', () => {
    const flagsOf = (text: string, name: string, flags = 0) => kmemCacheFlags(parseSlubDebug(text, '6.6'), name, flags);
    expect(flagsOf('', 'dentry')).toBe(FZPU); // bare slub_debug: full debugging everywhere
    expect(flagsOf('FZPU', 'anything')).toBe(FZPU);
    expect(flagsOf('fz', 'x')).toBe(F.consistency_checks | F.red_zone); // case-insensitive
    expect(flagsOf('Z,dentry', 'dentry')).toBe(F.red_zone);
    expect(flagsOf('Z,dentry', 'dentry2')).toBe(0); // a list alone leaves the global flags off; names match exactly
    expect(flagsOf(',dentry', 'dentry')).toBe(FZPU); // no letters but a list: full debugging for those
    expect(flagsOf('Z,a,b', 'b')).toBe(F.red_zone);
    expect(flagsOf('P;U,kmalloc-*', 'kmalloc-64')).toBe(F.store_user); // the block's flags replace the global ones
    expect(flagsOf('P;U,kmalloc-*', 'dentry')).toBe(F.poison);
    expect(flagsOf('FZ-P', 'x')).toBe(F.poison); // '-' clears what came before it
    expect(flagsOf('-', 'x')).toBe(0);
    expect(flagsOf('U', 'kmemleak', F.noleaktrace)).toBe(F.noleaktrace); // no global STORE_USER for NOLEAKTRACE caches
    expect(flagsOf('FZPU', 'kunit', F.no_user_flags)).toBe(F.no_user_flags);
    expect(parseSlubDebug('FO', '6.6')).toMatchObject({ global: F.consistency_checks, disableHigherOrderDebug: true });
    expect(() => parseSlubDebug('FQ', '6.6')).toThrow(SlabError);
    expect(() => parseSlubDebug('FQ', '6.6')).toThrow(/'Q' unknown/);
  });

  it('5.4: one block, and its cache "list" is one name prefix', () => {
    const flagsOf = (text: string, name: string) => kmemCacheFlags(parseSlubDebug(text, '5.4'), name, 0);
    expect(flagsOf('', 'x')).toBe(FZPU);
    expect(flagsOf('ZP', 'x')).toBe(F.red_zone | F.poison);
    expect(flagsOf('Z,kmalloc-', 'kmalloc-64')).toBe(F.red_zone); // strncmp(slabs, name, strlen(slabs))
    expect(flagsOf('Z,kmalloc-', 'dentry')).toBe(0);
    expect(flagsOf('Z,a,b', 'a')).toBe(0); // "a,b" is one prefix that no name starts with
    expect(flagsOf(',dentry', 'dentry')).toBe(FZPU);
    expect(flagsOf('-', 'x')).toBe(0);
  });

  it('slubInit applies it to the kmalloc caches and to later caches; debug caches do not merge', () => {
    const m = create({ cpus: 2, memory: 16 << 20, profile: '6.6' });
    slubInit(m, { debug: 'FZPU,kmalloc-64,obj' });
    const flags = (id: number) => m.u32[cacheById(m, id).base + KMEM_CACHE.flags];
    expect(flags(3) & FZPU).toBe(FZPU); // kmalloc-64
    expect(flags(2) & FZPU).toBe(0); // kmalloc-32
    const obj = kmemCacheCreate(m, 'obj', 64);
    expect(flags(obj) & FZPU).toBe(FZPU);
    // 'obj2' gets no debug flags, and cannot merge into kmalloc-64 or 'obj' (debug caches never merge)
    const obj2 = kmemCacheCreate(m, 'obj2', 64);
    expect([obj2 === obj, obj2 === 3, flags(obj2) & FZPU]).toEqual([false, false, 0]);
    expect(kmemCacheCreate(m, 'obj3', 64)).toBe(obj2); // two plain ones do
  });

  it('slub_debug=O drops the metadata flags of a cache whose order they would raise', () => {
    const m = create({ cpus: 2, memory: 16 << 20, profile: '6.6' });
    slubInit(m, { debug: 'FZPUO' });
    const s4k = cacheById(m, kmemCacheCreate(m, 'page', 4096));
    expect(s4k.flags & FZPU).toBe(F.consistency_checks); // F stays: it adds no metadata
    expect(s4k.size).toBe(4096);
    const s64 = cacheById(m, kmemCacheCreate(m, 'small', 64));
    expect(s64.flags & FZPU).toBe(FZPU);
  });

  it('slub_debug=T traces every allocation and free of the named cache (uncounted)', () => {
    const m = create({ cpus: 1, memory: 16 << 20, profile: '6.6' });
    slubInit(m, { debug: 'T,traced' });
    const s = cacheById(m, kmemCacheCreate(m, 'traced', 32));
    const cpu = makeCpu(m, 0);
    const p = slabAllocNode(s, cpu, -1);
    kmemCacheFree(s, cpu, p);
    const lines = slabReports(m).map((r) => r.text);
    expect(lines[0]).toMatch(new RegExp(`^TRACE traced alloc 0x${p.toString(16)} inuse=1 fp=0x`));
    expect(lines[1]).toMatch(new RegExp(`^TRACE traced free 0x${p.toString(16)} inuse=1 fp=0x`));
    expect(slabErrorCount(s)).toBe(0);
  });

  it('unknown options are refused', () => {
    const m = create({ cpus: 1, memory: 16 << 20 });
    expect(() => slubInit(m, { bogus: true } as unknown as SlubOptions)).toThrow(/unknown SLUB option 'bogus'/);
    expect(() => slubInit(m, { seed: -1 })).toThrow(/seed/);
  });
});

function run(profile: Profile, opts: SlubOptions, steps = 3000) {
  const m = create({ cpus: 3, memory: 16 << 20, profile });
  slubInit(m, opts);
  const s = cacheById(m, kmemCacheCreate(m, 'obj', 192, { flags: ['no_merge'] }));
  const cpus = [0, 1, 2].map((i) => makeCpu(m, i, 11));
  const rng = new Rng(5, 1);
  const live: number[] = [];
  const order: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (live.length === 0 || rng.below(100) < 55) {
      const p = slabAllocNode(s, cpus[rng.below(3)], -1);
      live.push(p);
      order.push(p);
    } else {
      const j = rng.below(live.length);
      kmemCacheFree(s, cpus[rng.below(3)], live[j]);
      live[j] = live[live.length - 1];
      live.pop();
    }
  }
  return { m, s, order, live };
}

describe.each(['5.4', '6.6'] as Profile[])('freelist hardening and randomisation (profile %s)', (profile) => {
  it('hardened: free pointers are stored as ptr ^ s->random ^ swab(&ptr) (5.4: ^ &ptr), s->random from the seed', () => {
    const a = run(profile, { hardened: true, seed: 9 });
    const b = run(profile, { hardened: true, seed: 9 });
    const c = run(profile, { hardened: true, seed: 10 });
    expect(a.s.random).not.toBe(0);
    expect(a.s.random).toBe(b.s.random);
    expect(a.s.random).not.toBe(c.s.random);
    expect(validateCache(a.s)).toEqual({ errors: 0, messages: [] });
    const plain = run(profile, {});
    expect(plain.s.random).toBe(0);
    expect(a.order).toEqual(plain.order); // hardening changes the stored form only
    const freeObj = (m: Machine, order: number[], live: number[]) =>
      order.find((p) => !live.includes(p) && !dumpObject(m, p).allocated) ?? 0;
    const f = freeObj(a.m, a.order, a.live);
    const d = dumpObject(a.m, f);
    const mix = profile === '6.6' ? swab32(d.freePointer.at) : d.freePointer.at;
    expect(d.freePointer.stored).toBe((d.freePointer.decoded ^ a.s.random ^ mix) >>> 0);
    expect(d.freePointer.valid).toBe(true);
  });

  it('random freelists: new slabs hand out objects in a shuffled order, the same for the same seed', () => {
    const a = run(profile, { randomFreelist: true, seed: 3 });
    const b = run(profile, { randomFreelist: true, seed: 3 });
    const c = run(profile, { randomFreelist: true, seed: 4 });
    const plain = run(profile, {});
    expect(a.order).toEqual(b.order);
    expect(a.order).not.toEqual(c.order);
    expect(a.order).not.toEqual(plain.order);
    // a fresh slab hands out all its objects, not in address order
    const m = create({ cpus: 1, memory: 16 << 20, profile });
    slubInit(m, { randomFreelist: true, seed: 3 });
    const s = cacheById(m, kmemCacheCreate(m, 'fresh', 192, { flags: ['no_merge'] }));
    const cpu = makeCpu(m, 0);
    const first = Array.from({ length: s.objects }, () => slabAllocNode(s, cpu, -1));
    const sorted = [...first].sort((x, y) => x - y);
    expect(first).not.toEqual(sorted);
    expect(sorted).toEqual(sorted.map((_, i) => sorted[0] + i * s.size)); // still every object of one slab
    expect(a.s.randomSeq).not.toBeNull();
    expect([...(a.s.randomSeq ?? [])].sort((x, y) => x - y)).toEqual([...Array(a.s.objects).keys()]);
    expect(validateCache(a.s)).toEqual({ errors: 0, messages: [] });
  });

  it('both together, with debugging: a random run stays clean', () => {
    const a = run(profile, { randomFreelist: true, hardened: true, debug: 'FZPU', seed: 8 });
    expect(a.s.debug).toBe(true);
    expect(validateCache(a.s)).toEqual({ errors: 0, messages: [] });
  });
});
