// Object addressing inside slabs: plain arithmetic on constants, no shared state.
import { addrToPfn, type Machine, pageOff, pfnToAddr } from '../../shm/machine.js';
import { PAGE, PG } from '../../shm/structs.js';
import type { KmemCache } from './kmem_cache.js';

/** Object i of the slab at `pfn` (past its left red zone: fixup_red_left()). */
export const objectAt = (s: KmemCache, pfn: number, i: number): number => pfnToAddr(s.m, pfn) + i * s.size + s.redLeftPad;

/**
 * The index of object `addr` in its slab, or -1 if not at an object start. As
 * __obj_to_index() does, a multiplication by s->reciprocal_size instead of a division:
 * for offsets below 2^31 the product is within 2^-20 of the exact quotient, so it rounds
 * to it, and `i * size === rel` holds exactly at object starts.
 */
export function objectIndex(s: KmemCache, pfn: number, objects: number, addr: number): number {
  const rel = addr - s.redLeftPad - pfnToAddr(s.m, pfn);
  const i = Math.round(rel * s.reciprocalSize);
  return i >= 0 && i < objects && i * s.size === rel ? i : -1;
}

/** virt_to_head_page(): the pfn of the head page of the block holding `addr`. */
export function virtToHeadPfn(m: Machine, addr: number): number {
  const pfn = addrToPfn(m, addr);
  const p = pageOff(m, pfn);
  return m.u32[p + PAGE.flags] & PG.tail ? m.u32[p + PAGE.compoundHead] : pfn;
}

/** swab32: byte-swap, as the 5.7+ freelist hardening applies to the pointer's address. */
export const swab32 = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/**
 * freelist_ptr(): the stored form of a free pointer (and back: the XOR is its own inverse).
 * CONFIG_SLAB_FREELIST_HARDENED: ptr ^ s->random ^ swab(ptr_addr) (5.7+), ^ ptr_addr (5.4).
 */
export function freelistPtr(s: KmemCache, ptr: number, ptrAddr: number): number {
  if (s.random === 0) return ptr;
  return (ptr ^ s.random ^ (s.v66 ? swab32(ptrAddr) : ptrAddr)) >>> 0;
}
