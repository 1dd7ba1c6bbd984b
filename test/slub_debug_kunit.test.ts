// lib/slub_kunit.c (suite "slub_test") on the simulator: the same caches, the same
// clobbers, validate_slab_cache(), and the kernel's error counts (one corrupted byte
// range = 2: the report and the restore_bytes() FIX). The five tests that 5.14 brought
// run on both profiles; test_kmalloc_redzone_access needs 6.2's kmalloc red zone, so
// 6.6 only. Plus test_leak_destroy (6.12) with the count its Oct-2024 fix settled on.
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheCreate, kmemCacheDestroy, slubInit } from '../src/mm/slub/cache.js';
import { dumpObject, readBytes, writeBytes } from '../src/mm/slub/inspect.js';
import { validateSlabCache } from '../src/mm/slub/debug_validate.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { kmallocTrace } from '../src/mm/slub/kmalloc.fast.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { resetSlabErrors, slabErrorCount } from '../src/mm/slub/report.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { create } from '../src/shm/machine.js';
import { CACHE_STATE, KMEM_CACHE } from '../src/shm/structs.js';

const PROFILES: Profile[] = ['5.4', '6.6'];

/** test_kmem_cache_create(): kmem_cache_create(name, size, 0, flags | SLAB_NO_USER_FLAGS, NULL). */
function testCache(profile: Profile, name: string, size: number, flags: string[]) {
  const m = create({ cpus: 2, nodes: 1, memory: 16 << 20, profile });
  slubInit(m);
  const id = kmemCacheCreate(m, name, size, { flags: [...flags, 'no_user_flags'] });
  const s = cacheById(m, id);
  const cpu = makeCpu(m, 0);
  const alloc = (): number => {
    const p = slabAllocNode(s, cpu, -1);
    expect(p).not.toBe(0);
    return p;
  };
  return { m, s, id, cpu, alloc, free: (p: number) => kmemCacheFree(s, cpu, p) };
}

/** After a test: the cache validates clean again, and destroy succeeds when nothing is left. */
function cleanUp(w: ReturnType<typeof testCache>): void {
  expect(validateSlabCache(w.m, w.id).errors).toBe(0);
  resetSlabErrors(w.s);
  expect(validateCache(w.s)).toEqual({ errors: 0, messages: [] });
  kmemCacheDestroy(w.m, w.id);
  expect(w.m.u32[w.s.base + KMEM_CACHE.state]).toBe(CACHE_STATE.destroyed);
}

describe.each(PROFILES)('lib/slub_kunit.c, profile %s', (profile) => {
  it('test_clobber_zone: a byte past a live object in its right red zone: 2 errors', () => {
    const w = testCache(profile, 'TestSlub_RZ_alloc', 64, ['red_zone']);
    const p = w.alloc();
    expect(readBytes(w.m, p + 64, w.s.inuse - 64).every((b) => b === 0xcc)).toBe(true); // SLUB_RED_ACTIVE
    writeBytes(w.m, p + 64, [0x12]);
    const r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    const what = profile === '6.6' ? 'Right Redzone' : 'Redzone';
    expect(r.messages).toContain(`BUG TestSlub_RZ_alloc: ${what} overwritten`);
    expect(r.messages.some((l) => l.startsWith('FIX TestSlub_RZ_alloc: Restoring'))).toBe(true);
    expect(readBytes(w.m, p + 64, 1)[0]).toBe(0xcc); // restore_bytes() put the pattern back
    expect(slabErrorCount(w.s)).toBe(2);
    w.free(p);
    cleanUp(w);
  });

  it('test_next_pointer: a corrupt free pointer: 3 errors, restored: 2, then 0', () => {
    const w = testCache(profile, 'TestSlub_next_ptr_free', 64, ['poison']);
    const p = w.alloc();
    w.free(p);
    expect(w.s.offset).toBe(64); // SLAB_POISON moved the free pointer after the object
    const ptrAddr = p + w.s.offset;
    const tmp = readBytes(w.m, ptrAddr, 8);
    writeBytes(w.m, ptrAddr, [~tmp[0] & 0xff]); // p[s->offset] = ~p[s->offset] (0x12 before a 2024 fix)
    // One for the corrupted freechain, one for the wrong count of objects in use, one
    // for fixing the count.
    let r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(3);
    expect(r.messages).toContain('BUG TestSlub_next_ptr_free: Freechain corrupt');
    expect(r.messages).toContain(
      `BUG TestSlub_next_ptr_free: Wrong object count. Counter is 0 but counted were ${w.s.objects - 1}`,
    );
    expect(r.messages).toContain('FIX TestSlub_next_ptr_free: Object count adjusted');
    // Repair the pointer: the chain is whole again, the count (adjusted above) is wrong again.
    writeBytes(w.m, ptrAddr, tmp);
    r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    expect(r.messages).toContain(
      `BUG TestSlub_next_ptr_free: Wrong object count. Counter is ${w.s.objects - 1} but counted were 0`,
    );
    // The previous validation repaired the count.
    expect(validateSlabCache(w.m, w.id).errors).toBe(0);
    cleanUp(w);
  });

  it('test_first_word: the first byte of a freed object: 2 errors (Poison)', () => {
    const w = testCache(profile, 'TestSlub_1th_word_free', 64, ['poison']);
    const p = w.alloc();
    w.free(p);
    expect(Array.from(readBytes(w.m, p, 64))).toEqual([...Array(63).fill(0x6b), 0xa5]);
    writeBytes(w.m, p, [0x78]);
    const r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    expect(r.messages).toContain('BUG TestSlub_1th_word_free: Poison overwritten');
    cleanUp(w);
  });

  it('test_clobber_50th_byte: byte 50 of a freed object: 2 errors (Poison)', () => {
    const w = testCache(profile, 'TestSlub_50th_word_free', 64, ['poison']);
    const p = w.alloc();
    w.free(p);
    writeBytes(w.m, p + 50, [0x9a]);
    const r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    expect(r.messages).toContain('BUG TestSlub_50th_word_free: Poison overwritten');
    expect(readBytes(w.m, p + 50, 1)[0]).toBe(0x6b);
    cleanUp(w);
  });

  it('test_clobber_redzone_free: the red zone of a freed object: 2 errors', () => {
    const w = testCache(profile, 'TestSlub_RZ_free', 64, ['red_zone']);
    const p = w.alloc();
    w.free(p);
    expect(readBytes(w.m, p + 64, 1)[0]).toBe(0xbb); // SLUB_RED_INACTIVE
    writeBytes(w.m, p + 64, [0xab]);
    const r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    cleanUp(w);
  });

  it('test_leak_destroy: one object left at kmem_cache_destroy: 2 errors, refused, state unchanged', () => {
    const w = testCache(profile, 'TestSlub_leak_destroy', 64, ['no_merge']);
    const p = w.alloc();
    const before = Buffer.from(w.m.u8).toString('base64');
    let err: unknown;
    try {
      kmemCacheDestroy(w.m, w.id);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SlabError);
    const e = err as SlabError;
    expect(e.code).toBe('EBUSY');
    expect(e.report?.errors).toBe(2); // slab_err + one per leaked object
    expect(e.report?.messages[0]).toBe(
      'BUG TestSlub_leak_destroy: Objects remaining in TestSlub_leak_destroy on __kmem_cache_shutdown()',
    );
    expect(e.report?.messages[1]).toBe(`Object 0x${p.toString(16)} @offset=${p % w.m.cfg.pageSize}`);
    expect(e.message).toContain('Objects remaining in TestSlub_leak_destroy on __kmem_cache_shutdown()');
    expect(Buffer.from(w.m.u8).toString('base64')).toBe(before);
    w.free(p);
    kmemCacheDestroy(w.m, w.id);
  });
});

describe('lib/slub_kunit.c, profile 6.6 only', () => {
  it('test_kmalloc_redzone_access: bytes 18 and 19 of an 18-byte kmalloc from a 32-byte cache: 2 errors', () => {
    const w = testCache('6.6', 'TestSlub_RZ_kmalloc', 32, ['kmalloc', 'store_user', 'red_zone']);
    const p = kmallocTrace(w.s, w.cpu, 18);
    // init_object(SLUB_RED_ACTIVE) red-zoned the 14 bytes the caller did not ask for
    expect(Array.from(readBytes(w.m, p + 18, 14))).toEqual(Array(14).fill(0xcc));
    expect(dumpObject(w.m, p).origSize).toBe(18);
    writeBytes(w.m, p + 18, [0xab, 0xab]);
    const r = validateSlabCache(w.m, w.id);
    expect(r.errors).toBe(2);
    expect(r.messages).toContain('BUG TestSlub_RZ_kmalloc: kmalloc Redzone overwritten');
    expect(r.messages.some((l) => l.includes(`0x${(p + 18).toString(16)}-0x${(p + 19).toString(16)}`))).toBe(true);
    w.free(p);
    cleanUp(w);
  });

  it('a non-debug cache cannot be validated on 6.x (the sysfs write is -EINVAL); on 5.4 it can', () => {
    const w = testCache('6.6', 'plain', 64, ['no_merge']);
    expect(() => validateSlabCache(w.m, w.id)).toThrow(/validates only caches with debug flags/);
    const v = testCache('5.4', 'plain', 64, ['no_merge']);
    v.alloc();
    expect(validateSlabCache(v.m, v.id)).toEqual({ errors: 0, messages: [] });
  });
});
