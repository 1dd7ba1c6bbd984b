// Simulated memory for a model's own data: `word(m, alloc(m, bytes))` is the index of
// the first word of a fresh, zeroed block, which the primitives take (`load32(m, w, S)`);
// `alloc` alone gives a simulated address, which a model stores in words as a pointer
// (0 is never one: it plays NULL).
//
// Blocks are cut from pages of node 0's buddy allocator, in order, so that the same
// create() on the same starting machine always gets the same addresses: a schedule
// replays only if every run starts from the same state.
import { SlabError } from '../errors.js';
import { allocPages } from '../mm/page_alloc.fast.js';
import { addrByte, addrWord, type Machine, perBufferState, pfnToAddr, validAddr } from '../shm/machine.js';
import { MAX_ORDER, NIL } from '../shm/structs.js';

/** Where the next block of a machine's model memory starts: [address, end of its page run). */
const brk = perBufferState<{ next: number; end: number }>((b) => ({ ...b }));

/**
 * `bytes` of zeroed simulated memory, aligned to `align` bytes (a power of two up to the
 * page size; default 8): its simulated address, never 0. Call it from a model's create().
 */
export function alloc(m: Machine, bytes: number, align = 8): number {
  const pageSize = m.cfg.pageSize;
  if (!Number.isInteger(bytes) || bytes < 1)
    throw new SlabError('EINVAL', `alloc: size must be a positive integer of bytes, got ${bytes}`);
  if (!Number.isInteger(align) || align < 1 || align > pageSize || (align & (align - 1)) !== 0)
    throw new SlabError('EINVAL', `alloc: align must be a power of two from 1 to ${pageSize}, got ${align}`);
  let b = brk.get(m.sab);
  let at = b ? (b.next + align - 1) & -align : 0;
  if (!b || at + bytes > b.end) {
    const order = Math.max(0, Math.ceil(Math.log2(bytes / pageSize)));
    const pfn = order < MAX_ORDER ? allocPages(m, 0, order, 0) : NIL;
    if (pfn === NIL)
      throw new SlabError('EINVAL', `alloc: out of simulated memory for ${bytes} bytes (raise the model's memory)`);
    at = pfnToAddr(m, pfn);
    b = { next: at, end: at + (pageSize << order) };
    brk.set(m.sab, b);
    m.u8.fill(0, addrByte(m, at), addrByte(m, b.end));
  }
  b.next = at + bytes;
  return at;
}

/** The word index of simulated address `addr` (4-byte aligned), for the primitives and `m.u32[...]`. */
export function word(m: Machine, addr: number): number {
  if (!validAddr(m, addr) || addr % 4 !== 0)
    throw new SlabError('EINVAL', `word: 0x${Number(addr).toString(16)} is not a 4-byte aligned simulated address`);
  return addrWord(m, addr);
}
