// SLUB debugging (slub_debug=FZPU): the slot's red zones, poison and padding, the
// owner tracks, and the checks that find and repair what a misbehaving user did to
// them. slub.c (CONFIG_SLUB_DEBUG): init_object(), setup_object_debug(),
// setup_slab_debug() / setup_page_debug(), set_track(), init_tracking(), set_orig_size(),
// check_bytes_and_report(), restore_bytes(), check_pad_bytes(), slab_pad_check(),
// check_object(), check_slab(), check_valid_pointer(), on_freelist(),
// alloc_debug_processing(), free_debug_processing(), free_consistency_checks(),
// validate_slab(). Both profiles, where they differ (message wording, what check_object
// does after a first failure, whether orig_size exists, validate_slab's order).
//
// Plain functions, not a two-way module: they run with n->list_lock held (6.6: every
// change to a debug cache's slabs is made under it, so nothing here can race), or on
// objects only the caller holds (5.4 allocation), or on the main thread (validate). The
// one exception is 5.4, where another CPU may CAS a slab's pair while free_debug_processing
// walks its freelist (the kernel excludes that with slab_lock, which every
// cmpxchg_double_slab of a cache without __CMPXCHG_DOUBLE takes): on_freelist() therefore
// works on a snapshot of the pair and walks again when the pair changed under it.
//
// Memory is accessed byte-wise through m.u8 at addrByte(), and word-wise through
// addrWord(); free pointers are 32-bit words at object + s->offset (the simulator's
// pointers are 32 bits: the other half of the kernel's 8-byte slot is never written).
import { cas64 } from '../../shm/atomic.fast.js';
import { addrByte, addrWord, pageOff, pfnToAddr, validAddr } from '../../shm/machine.js';
import { PAGE, PG, SLAB_COUNTERS } from '../../shm/structs.js';
import { frozenOf, inuseOf, makeCounters, MAX_OBJS_PER_PAGE, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { ORIG_SIZE_BYTES, SLAB_FLAGS } from './geometry.js';
import { cacheById, type KmemCache } from './kmem_cache.js';
import { freelistPtr, objectAt, objectIndex } from './objects.js';
import { bugLine, hex, type Reporter, slabErr, slabFix, slabInfoLine } from './report.js';

// include/linux/poison.h
/** POISON_INUSE: padding, and the whole of a new slab of a SLAB_POISON cache */
export const POISON_INUSE = 0x5a;
/** POISON_FREE: the bytes of a poisoned object but its last */
export const POISON_FREE = 0x6b;
/** POISON_END: the last byte of a poisoned object */
export const POISON_END = 0xa5;
/** SLUB_RED_INACTIVE: red zones of a free object */
export const SLUB_RED_INACTIVE = 0xbb;
/** SLUB_RED_ACTIVE: red zones of an allocated object */
export const SLUB_RED_ACTIVE = 0xcc;

/** enum track_item */
export const TRACK_ALLOC = 0;
export const TRACK_FREE = 1;
/**
 * struct track.addr holds the caller (_RET_IP_); the simulator has no return addresses,
 * so it stores which SLUB path set the track, printed as the kernel prints %pS.
 */
export const TRACK_CALLERS = ['', 'slab_alloc_node', 'slab_free'] as const;

// ---- small accessors ----------------------------------------------------------------

/** The pair (freelist, counters) of slab `pfn`, read as one 64-bit word. */
function loadPair(s: KmemCache, pfn: number): { freelist: number; counters: number } {
  const w = pageOff(s.m, pfn) + SLAB_COUNTERS;
  const v = Atomics.load(s.m.i64, w >> 1);
  return { counters: Number(BigInt.asUintN(32, v)), freelist: Number(BigInt.asUintN(32, v >> 32n)) };
}

/** Replace the pair if it still holds what was read; false if it changed meanwhile. */
function casPair(
  s: KmemCache,
  pfn: number,
  old: { freelist: number; counters: number },
  freelist: number,
  counters: number,
): boolean {
  return cas64(s.m, pageOff(s.m, pfn) + SLAB_COUNTERS, old.counters, old.freelist, counters, freelist, 0);
}

/** Set the pair, retrying against concurrent CASes (a fix the kernel makes under slab_lock). */
function updatePair(s: KmemCache, pfn: number, fn: (freelist: number, counters: number) => [number, number]): void {
  for (;;) {
    const old = loadPair(s, pfn);
    const [f, c] = fn(old.freelist, old.counters);
    if (casPair(s, pfn, old, f, c)) return;
  }
}

/**
 * get_freepointer() for the debug code: the decoded pointer stored in `object`, or 0 if
 * `object` is not in simulated memory (a corrupt pointer the kernel would dereference).
 */
export function readFreepointer(s: KmemCache, object: number): number {
  const at = object + s.offset;
  if (!validAddr(s.m, at)) return 0;
  return freelistPtr(s, Atomics.load(s.m.u32, addrWord(s.m, at)), at);
}

/** set_freepointer() for the debug code. */
export function writeFreepointer(s: KmemCache, object: number, fp: number): void {
  const at = object + s.offset;
  if (validAddr(s.m, at)) Atomics.store(s.m.u32, addrWord(s.m, at), freelistPtr(s, fp, at));
}

/** memset() of simulated memory. */
function fill(s: KmemCache, from: number, value: number, bytes: number): void {
  if (bytes > 0) s.m.u8.fill(value, addrByte(s.m, from), addrByte(s.m, from + bytes));
}

/** memchr_inv(): the address of the first byte of [start, start+bytes) that is not `value`, or -1. */
function memchrInv(s: KmemCache, start: number, value: number, bytes: number): number {
  const u8 = s.m.u8;
  const b = addrByte(s.m, start);
  for (let i = 0; i < bytes; i++) if (u8[b + i] !== value) return start + i;
  return -1;
}

const byteAt = (s: KmemCache, addr: number): number => s.m.u8[addrByte(s.m, addr)];

/** slab_size(slab): the bytes of the slab's pages. */
const slabBytes = (s: KmemCache, pfn: number): number => s.m.cfg.pageSize << s.m.u32[pageOff(s.m, pfn) + PAGE.private];

/** size_from_object(): the slot from the object's start to the next slot. */
export const sizeFromObject = (s: KmemCache): number => (s.redZone ? s.size - s.redLeftPad : s.size);

/**
 * Where the debug metadata after the object ends (the tracks and 6.6's orig_size, from
 * get_info_end()): check_pad_bytes() wants 0x5a from here to sizeFromObject().
 */
export const metadataEnd = (s: KmemCache): number =>
  s.infoEnd + (s.storeUser ? 2 * s.trackSize + (s.origSizeTracked ? ORIG_SIZE_BYTES[s.m.cfg.profile] : 0) : 0);

/** freeptr_outside_object(). */
const freeptrOutside = (s: KmemCache): boolean => s.offset >= s.inuse;

/** check_valid_pointer(): NULL, or the start of one of the slab's objects. */
export function checkValidPointer(s: KmemCache, pfn: number, object: number): boolean {
  if (object === 0) return true;
  return objectIndex(s, pfn, objectsOf(s.m.u32[pageOff(s.m, pfn) + SLAB_COUNTERS]), object) >= 0;
}

// ---- tracks and orig_size ----------------------------------------------------------

/** get_track(): where track `which` of `object` lives. */
export const trackAddr = (s: KmemCache, object: number, which: number): number => object + s.infoEnd + which * s.trackSize;

/** The fields of struct track that the simulator keeps. */
export interface Track {
  /** index into TRACK_CALLERS; 0 for a cleared track */
  addr: number;
  cpu: number;
  pid: number;
  when: number;
}

/** struct track field offsets: 6.x { addr, handle, cpu, pid, when }; 5.4 { addr, addrs[16], cpu, pid, when }. */
const TRACK_FIELDS = { v66: { cpu: 12, pid: 16, when: 24 }, v54: { cpu: 136, pid: 140, when: 144 } } as const;

/**
 * A per-thread stand-in for jiffies: one tick per track written. A track another thread
 * wrote carries that thread's count, so an age can only be told for this thread's (else 0).
 */
let jiffies = 0;

/** set_track(): who (CPU, task) did `which` to `object`, and when. */
export function setTrack(s: KmemCache, object: number, which: number, cpu: Cpu): void {
  const t = trackAddr(s, object, which);
  const f = s.v66 ? TRACK_FIELDS.v66 : TRACK_FIELDS.v54;
  const u = s.m.u32;
  fill(s, t, 0, s.trackSize);
  u[addrWord(s.m, t)] = which === TRACK_ALLOC ? 1 : 2;
  u[addrWord(s.m, t + f.cpu)] = cpu.id;
  u[addrWord(s.m, t + f.pid)] = cpu.id + 1; // the task each simulated CPU runs
  u[addrWord(s.m, t + f.when)] = ++jiffies;
}

/** Read track `which` of `object`. */
export function readTrack(s: KmemCache, object: number, which: number): Track {
  const t = trackAddr(s, object, which);
  const f = s.v66 ? TRACK_FIELDS.v66 : TRACK_FIELDS.v54;
  const u = s.m.u32;
  return {
    addr: u[addrWord(s.m, t)],
    cpu: u[addrWord(s.m, t + f.cpu)],
    pid: u[addrWord(s.m, t + f.pid)],
    when: u[addrWord(s.m, t + f.when)],
  };
}

/** init_tracking(): both tracks cleared. */
function initTracking(s: KmemCache, object: number): void {
  if (s.storeUser) fill(s, trackAddr(s, object, TRACK_ALLOC), 0, 2 * s.trackSize);
}

/** Where a 6.6 kmalloc object keeps its requested size: after the two tracks. */
const origSizeAddr = (s: KmemCache, object: number): number => object + s.infoEnd + 2 * s.trackSize;

/** set_orig_size() (6.6 kmalloc caches with STORE_USER). */
export function setOrigSize(s: KmemCache, object: number, origSize: number): void {
  if (!s.origSizeTracked) return;
  s.m.u32[addrWord(s.m, origSizeAddr(s, object))] = origSize === 0 ? s.objectSize : origSize;
}

/** get_orig_size(): the requested size of a kmalloc object, else s->object_size. */
export function getOrigSize(s: KmemCache, object: number): number {
  if (!s.origSizeTracked) return s.objectSize;
  return s.m.u32[addrWord(s.m, origSizeAddr(s, object))];
}

// ---- initialising objects ----------------------------------------------------------

/**
 * init_object(): red zones `val` (SLUB_RED_ACTIVE or SLUB_RED_INACTIVE), poison
 * 0x6b...0xa5. 6.6 red-zones the bytes of an allocated kmalloc object past its requested
 * size and poisons only up to it. The free pointer is untouched: when poisoning is on it
 * lives outside the object (calculate_sizes() moved it).
 */
export function initObject(s: KmemCache, object: number, val: number): void {
  let poisonSize = s.objectSize;
  if (s.redZone) {
    fill(s, object - s.redLeftPad, val, s.redLeftPad);
    if (s.v66 && s.origSizeTracked && val === SLUB_RED_ACTIVE) poisonSize = Math.min(getOrigSize(s, object), s.objectSize);
  }
  if (s.objectPoison) {
    fill(s, object, POISON_FREE, poisonSize - 1);
    fill(s, object + poisonSize - 1, POISON_END, 1);
  }
  if (s.redZone) fill(s, object + poisonSize, val, s.inuse - poisonSize);
}

/** setup_object_debug(): a new slab's object starts out free, its tracks clear. */
export function setupObjectDebug(s: KmemCache, object: number): void {
  if (!(s.storeUser || s.redZone || s.objectPoison)) return;
  initObject(s, object, SLUB_RED_INACTIVE);
  initTracking(s, object);
}

/** setup_slab_debug() (6.x) / setup_page_debug() (5.4): a new SLAB_POISON slab is 0x5a throughout. */
export function setupSlabDebug(s: KmemCache, pfn: number): void {
  if (s.poison) fill(s, pfnToAddr(s.m, pfn), POISON_INUSE, slabBytes(s, pfn));
}

// ---- reporting --------------------------------------------------------------------

/** print_trailer()'s summary lines: the tracks, the slab, the object (dumpObject() adds the hex dumps). */
export function trailerLines(s: KmemCache, pfn: number, object: number): string[] {
  const out: string[] = [];
  if (s.storeUser) {
    for (const [which, what] of [
      [TRACK_ALLOC, 'Allocated'],
      [TRACK_FREE, 'Freed'],
    ] as const) {
      const t = readTrack(s, object, which);
      if (t.addr === 0) continue;
      const caller = TRACK_CALLERS[t.addr] ?? hex(t.addr);
      out.push(`${s.v66 ? '' : 'INFO: '}${what} in ${caller} age=${Math.max(0, jiffies - t.when)} cpu=${t.cpu} pid=${t.pid}`);
    }
  }
  out.push(slabInfoLine(s, pfn));
  const off = object - pfnToAddr(s.m, pfn);
  out.push(`${s.v66 ? '' : 'INFO: '}Object ${hex(object)} @offset=${off} fp=${hex(readFreepointer(s, object))}`);
  return out;
}

/** object_err(): one counted report about an object, with print_trailer(). */
export function objectErr(r: Reporter, s: KmemCache, pfn: number, object: number, reason: string): void {
  r.count(s, 'bug', bugLine(s, reason));
  for (const line of trailerLines(s, pfn, object)) r.line(s, 'info', line);
}

/**
 * check_bytes_and_report(): are [start, start+bytes) all `value`? If not: "<what>
 * overwritten" from the first bad byte to the last (trailing good bytes trimmed), then
 * restore_bytes() puts the pattern back with a FIX line. Two counted reports.
 */
function checkBytesAndReport(
  r: Reporter,
  s: KmemCache,
  pfn: number,
  object: number,
  what: string,
  start: number,
  value: number,
  bytes: number,
): boolean {
  const fault = memchrInv(s, start, value, bytes);
  if (fault < 0) return true;
  let end = start + bytes;
  while (end > fault && byteAt(s, end - 1) === value) end--;
  const base = pfnToAddr(s.m, pfn);
  r.count(s, 'bug', bugLine(s, `${what} overwritten`));
  const first = `First byte ${hex(byteAt(s, fault))} instead of ${hex(value)}`;
  r.line(
    s,
    'info',
    s.v66 ? `${hex(fault)}-${hex(end - 1)} @offset=${fault - base}. ${first}` : `INFO: ${hex(fault)}-${hex(end - 1)}. ${first}`,
  );
  for (const line of trailerLines(s, pfn, object)) r.line(s, 'info', line);
  if (r.repair) restoreBytes(r, s, what, value, fault, end);
  return false;
}

/** restore_bytes(): the pattern back over [from, to), with a FIX line. */
function restoreBytes(r: Reporter, s: KmemCache, what: string, value: number, from: number, to: number): void {
  slabFix(
    r,
    s,
    s.v66 ? `Restoring ${what} ${hex(from)}-${hex(to - 1)}=${hex(value)}` : `Restoring ${hex(from)}-${hex(to - 1)}=${hex(value)}`,
  );
  fill(s, from, value, to - from);
}

// ---- checks ------------------------------------------------------------------------

/** check_pad_bytes(): the bytes after the metadata, up to the next slot, are 0x5a. */
function checkPadBytes(r: Reporter, s: KmemCache, pfn: number, p: number): boolean {
  const off = metadataEnd(s);
  const size = sizeFromObject(s);
  if (size === off) return true;
  return checkBytesAndReport(r, s, pfn, p, 'Object padding', p + off, POISON_INUSE, size - off);
}

/** slab_pad_check(): the slab's bytes after its last slot are 0x5a (SLAB_POISON). */
export function slabPadCheck(r: Reporter, s: KmemCache, pfn: number): void {
  if (!s.poison) return;
  const start = pfnToAddr(s.m, pfn);
  const length = slabBytes(s, pfn);
  const remainder = length % s.size;
  if (remainder === 0) return;
  let end = start + length;
  const pad = end - remainder;
  const fault = memchrInv(s, pad, POISON_INUSE, remainder);
  if (fault < 0) return;
  while (end > fault && byteAt(s, end - 1) === POISON_INUSE) end--;
  if (s.v66) {
    slabErr(r, s, pfn, `Padding overwritten. ${hex(fault)}-${hex(end - 1)} @offset=${fault - start}`);
    if (r.repair) restoreBytes(r, s, 'slab padding', POISON_INUSE, fault, end);
  } else {
    slabErr(r, s, pfn, `Padding overwritten. ${hex(fault)}-${hex(end - 1)}`);
    // 5.4 restores the whole remainder, not just the bad part.
    if (r.repair) restoreBytes(r, s, 'slab padding', POISON_INUSE, pad, start + length);
  }
}

/**
 * check_object(): the red zones, poison, padding and free pointer of `object`, which
 * should be free (`val` SLUB_RED_INACTIVE) or allocated (SLUB_RED_ACTIVE). Returns
 * false at the first failure (both 5.4 and 6.6 stop there, except after the alignment
 * and object padding checks, which only report; 6.11 made it check everything).
 */
export function checkObject(r: Reporter, s: KmemCache, pfn: number, object: number, val: number): boolean {
  const p = object;
  const endObject = object + s.objectSize;
  if (s.redZone) {
    const left = s.v66 ? 'Left Redzone' : 'Redzone';
    const right = s.v66 ? 'Right Redzone' : 'Redzone';
    if (!checkBytesAndReport(r, s, pfn, object, left, object - s.redLeftPad, val, s.redLeftPad)) return false;
    if (!checkBytesAndReport(r, s, pfn, object, right, endObject, val, s.inuse - s.objectSize)) return false;
    if (s.origSizeTracked && val === SLUB_RED_ACTIVE) {
      const orig = getOrigSize(s, object);
      if (s.objectSize > orig && !checkBytesAndReport(r, s, pfn, object, 'kmalloc Redzone', p + orig, val, s.objectSize - orig)) {
        return false;
      }
    }
  } else if (s.poison && s.objectSize < s.inuse) {
    checkBytesAndReport(r, s, pfn, p, 'Alignment padding', endObject, POISON_INUSE, s.inuse - s.objectSize);
  }
  if (s.poison) {
    if (val !== SLUB_RED_ACTIVE && s.objectPoison) {
      if (!checkBytesAndReport(r, s, pfn, p, 'Poison', p, POISON_FREE, s.objectSize - 1)) return false;
      if (!checkBytesAndReport(r, s, pfn, p, s.v66 ? 'End Poison' : 'Poison', p + s.objectSize - 1, POISON_END, 1)) {
        return false;
      }
    }
    // check_pad_bytes cleans up on its own.
    checkPadBytes(r, s, pfn, p);
  }
  // Object and free pointer overlap: it cannot be checked while the object is allocated.
  if (!freeptrOutside(s) && val === SLUB_RED_ACTIVE) return true;
  if (!checkValidPointer(s, pfn, readFreepointer(s, p))) {
    objectErr(r, s, pfn, p, 'Freepointer corrupt');
    // "No choice but to zap it and thus lose the remainder of the free objects in this
    // slab. May cause another error because the object count is now wrong."
    if (r.repair) writeFreepointer(s, p, 0);
    return false;
  }
  return true;
}

/** check_slab(): a slab page whose counts fit its order, and (SLAB_POISON) its tail padding intact. */
export function checkSlab(r: Reporter, s: KmemCache, pfn: number): boolean {
  const m = s.m;
  const p = pageOff(m, pfn);
  if (!(m.u32[p + PAGE.flags] & PG.slab)) {
    slabErr(r, s, pfn, 'Not a valid slab page');
    return false;
  }
  const maxobj = Math.floor(slabBytes(s, pfn) / s.size);
  const counters = m.u32[p + SLAB_COUNTERS];
  if (objectsOf(counters) > maxobj) {
    slabErr(r, s, pfn, `objects ${objectsOf(counters)} > max ${maxobj}`);
    return false;
  }
  if (inuseOf(counters) > objectsOf(counters)) {
    slabErr(r, s, pfn, `inuse ${inuseOf(counters)} > max ${objectsOf(counters)}`);
    return false;
  }
  slabPadCheck(r, s, pfn);
  return true;
}

/** How often on_freelist() walks again when the slab's pair changed under it (5.4 only). */
const SNAPSHOT_RETRIES = 1000;

/**
 * on_freelist(): is `search` on the slab's freelist (search 0: walk it all and return
 * true)? On the way it repairs what it finds: a bad pointer after a good object cuts the
 * chain there ("Freechain corrupt"), a bad first pointer empties the freelist ("Freepointer
 * corrupt", "Freelist cleared"), and then the object counts are made to agree with the
 * chain ("Wrong number of objects", "Wrong object count. Counter is %d but counted were %d").
 * A cycle is walked objects + 1 steps and then miscounted, as 6.6 does (6.14 added the
 * "Freelist cycle detected" check).
 */
export function onFreelist(r: Reporter, s: KmemCache, pfn: number, search: number): boolean {
  for (let attempt = 0; ; attempt++) {
    const snap = loadPair(s, pfn);
    /** Did another CPU change the pair since the walk began? (Then walk again.) */
    const changed = (): boolean => {
      if (attempt >= SNAPSHOT_RETRIES) return false;
      const now = loadPair(s, pfn);
      return now.freelist !== snap.freelist || now.counters !== snap.counters;
    };
    const objects = objectsOf(snap.counters);
    let nr = 0;
    let object = 0;
    let fp = snap.freelist;
    let outcome: 'walked' | 'found' | 'retry' = 'walked';
    while (fp !== 0 && nr <= objects) {
      if (fp === search) {
        outcome = changed() ? 'retry' : 'found';
        break;
      }
      if (!checkValidPointer(s, pfn, fp)) {
        if (changed()) {
          outcome = 'retry';
          break;
        }
        if (object !== 0) {
          objectErr(r, s, pfn, object, 'Freechain corrupt');
          if (r.repair) writeFreepointer(s, object, 0);
          break;
        }
        slabErr(r, s, pfn, 'Freepointer corrupt');
        if (r.repair) updatePair(s, pfn, (_f, c) => [0, makeCounters(objectsOf(c), objectsOf(c), frozenOf(c))]);
        slabFix(r, s, 'Freelist cleared');
        return false;
      }
      object = fp;
      fp = readFreepointer(s, object);
      nr++;
    }
    if (outcome === 'found') return true;
    if (outcome === 'retry' || changed()) continue;
    let maxObjects = Math.floor(slabBytes(s, pfn) / s.size);
    if (maxObjects > MAX_OBJS_PER_PAGE) maxObjects = MAX_OBJS_PER_PAGE;
    let have = objects;
    if (objects !== maxObjects) {
      slabErr(r, s, pfn, `Wrong number of objects. Found ${objects} but should be ${maxObjects}`);
      if (r.repair) updatePair(s, pfn, (f, c) => [f, makeCounters(inuseOf(c), maxObjects, frozenOf(c))]);
      slabFix(r, s, 'Number of objects adjusted');
      have = maxObjects;
    }
    const inuse = inuseOf(snap.counters);
    if (inuse !== have - nr) {
      slabErr(r, s, pfn, `Wrong object count. Counter is ${inuse} but counted were ${have - nr}`);
      // The kernel stores objects - nr into the 16-bit inuse field, so a cycle (nr =
      // objects + 1) leaves 65535 there; 6.14 reports "Freelist cycle detected" instead.
      if (r.repair) updatePair(s, pfn, (f, c) => [f, makeCounters((have - nr) & 0xffff, objectsOf(c), frozenOf(c))]);
      slabFix(r, s, 'Object count adjusted');
    }
    return search === 0;
  }
}

/** Objects on a slab's freelist (bounded: a cycle is walked objects + 1 steps), as __fill_map() marks them. */
function freeMap(s: KmemCache, pfn: number): Uint8Array {
  const { freelist, counters } = loadPair(s, pfn);
  const objects = objectsOf(counters);
  const map = new Uint8Array(objects);
  let steps = 0;
  for (let p = freelist; p !== 0 && steps <= objects; p = readFreepointer(s, p), steps++) {
    const i = objectIndex(s, pfn, objects, p);
    if (i < 0) break;
    map[i] = 1;
  }
  return map;
}

/** Is `object` on its slab's freelist? (Read only; a cycle or a bad pointer ends the walk.) */
export function objectIsFree(s: KmemCache, pfn: number, object: number): boolean {
  const objects = objectsOf(loadPair(s, pfn).counters);
  const i = objectIndex(s, pfn, objects, object);
  return i >= 0 && freeMap(s, pfn)[i] === 1;
}

/**
 * validate_slab(): check_slab(), on_freelist(), then check_object() on every object,
 * free ones against SLUB_RED_INACTIVE and allocated ones against SLUB_RED_ACTIVE,
 * stopping at the first bad object. 6.6 goes through the objects in address order;
 * 5.4 checks all the free ones first, then the allocated ones.
 */
export function validateSlab(r: Reporter, s: KmemCache, pfn: number): void {
  if (!checkSlab(r, s, pfn) || !onFreelist(r, s, pfn, 0)) return;
  const map = freeMap(s, pfn);
  if (s.v66) {
    for (let i = 0; i < map.length; i++) {
      if (!checkObject(r, s, pfn, objectAt(s, pfn, i), map[i] ? SLUB_RED_INACTIVE : SLUB_RED_ACTIVE)) return;
    }
    return;
  }
  for (let i = 0; i < map.length; i++) if (map[i] && !checkObject(r, s, pfn, objectAt(s, pfn, i), SLUB_RED_INACTIVE)) return;
  for (let i = 0; i < map.length; i++) if (!map[i] && !checkObject(r, s, pfn, objectAt(s, pfn, i), SLUB_RED_ACTIVE)) return;
}

/** trace(): SLAB_TRACE's line for every allocation and free (uncounted). */
function trace(r: Reporter, s: KmemCache, pfn: number, object: number, alloc: boolean): void {
  if (!(s.flags & SLAB_FLAGS.trace)) return;
  const { freelist, counters } = loadPair(s, pfn);
  r.line(s, 'info', `TRACE ${s.name} ${alloc ? 'alloc' : 'free'} ${hex(object)} inuse=${inuseOf(counters)} fp=${hex(freelist)}`);
}

// ---- the allocation and free checks ------------------------------------------------

/** alloc_consistency_checks(). */
function allocConsistencyChecks(r: Reporter, s: KmemCache, pfn: number, object: number): boolean {
  if (!checkSlab(r, s, pfn)) return false;
  if (!checkValidPointer(s, pfn, object)) {
    objectErr(r, s, pfn, object, 'Freelist Pointer check fails');
    return false;
  }
  return checkObject(r, s, pfn, object, SLUB_RED_INACTIVE);
}

/**
 * alloc_debug_processing(): checks (F) on the object about to be handed out, then its
 * track (5.4; 6.6 sets it in ___slab_alloc), orig_size (6.6) and red zones / poison of
 * an allocated object. On a failed check the slab is given up: "Marking all objects
 * used" (inuse = objects, freelist = NULL; the objects still on the caller's list leak).
 */
export function allocDebugProcessing(
  r: Reporter,
  s: KmemCache,
  cpu: Cpu,
  pfn: number,
  object: number,
  origSize: number,
): boolean {
  if (s.checks && !allocConsistencyChecks(r, s, pfn, object)) {
    if (s.m.u32[pageOff(s.m, pfn) + PAGE.flags] & PG.slab) {
      slabFix(r, s, 'Marking all objects used');
      updatePair(s, pfn, (_f, c) => [0, makeCounters(objectsOf(c), objectsOf(c), frozenOf(c))]);
    }
    return false;
  }
  if (!s.v66 && s.storeUser) setTrack(s, object, TRACK_ALLOC, cpu);
  trace(r, s, pfn, object, true);
  if (s.v66) setOrigSize(s, object, origSize);
  initObject(s, object, SLUB_RED_ACTIVE);
  return true;
}

/**
 * free_consistency_checks(): a pointer to an object start, not already free, its red
 * zones intact, and a slab of this cache.
 */
function freeConsistencyChecks(r: Reporter, s: KmemCache, pfn: number, object: number): boolean {
  const m = s.m;
  if (!checkValidPointer(s, pfn, object)) {
    slabErr(r, s, pfn, `Invalid object pointer ${hex(object)}`);
    return false;
  }
  if (onFreelist(r, s, pfn, object)) {
    objectErr(r, s, pfn, object, 'Object already free');
    return false;
  }
  if (!checkObject(r, s, pfn, object, SLUB_RED_ACTIVE)) return false;
  const p = pageOff(m, pfn);
  const owner = m.u32[p + PAGE.slabCache];
  if (owner !== s.id + 1) {
    if (!(m.u32[p + PAGE.flags] & PG.slab)) slabErr(r, s, pfn, `Attempt to free object(${hex(object)}) outside of slab`);
    else if (owner === 0) r.line(s, 'warn', `SLUB <none>: no slab for object ${hex(object)}.`);
    else objectErr(r, s, pfn, object, 'page slab pointer corrupt.');
    return false;
  }
  return true;
}

/**
 * free_debug_processing(): for each object of the chain head..tail (cnt of them): the
 * checks (F), its free track (U), and free red zones / poison. Any failure drops the
 * whole free: "Object at 0x%p not freed". Returns the count to free (6.6 corrects a
 * wrong bulk count), or -1. The caller holds n->list_lock.
 */
export function freeDebugProcessing(
  r: Reporter,
  s: KmemCache,
  cpu: Cpu,
  pfn: number,
  head: number,
  tail: number,
  bulkCnt: number,
): number {
  return s.v66 ? freeDebug66(r, s, cpu, pfn, head, tail, bulkCnt) : freeDebug54(r, s, cpu, pfn, head, tail, bulkCnt);
}

/** One object's share of free_debug_processing() once its checks passed. */
function freeDebugObject(r: Reporter, s: KmemCache, cpu: Cpu, pfn: number, object: number): void {
  if (s.storeUser) setTrack(s, object, TRACK_FREE, cpu);
  trace(r, s, pfn, object, false);
  // The free pointer is not overwritten by init_object(): SLAB_POISON moved it.
  initObject(s, object, SLUB_RED_INACTIVE);
}

function freeDebug66(r: Reporter, s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, bulkCnt: number): number {
  let object = head;
  let cnt = 0;
  let checksOk = false;
  out: {
    if (s.checks && !checkSlab(r, s, pfn)) break out;
    const inuse = inuseOf(s.m.u32[pageOff(s.m, pfn) + SLAB_COUNTERS]);
    if (inuse < bulkCnt) {
      slabErr(r, s, pfn, `Slab has ${inuse} allocated objects but ${bulkCnt} are to be freed`);
      break out;
    }
    for (;;) {
      if (++cnt > bulkCnt) break; // goto out_cnt
      if (s.checks && !freeConsistencyChecks(r, s, pfn, object)) break out;
      freeDebugObject(r, s, cpu, pfn, object);
      if (object === tail) {
        checksOk = true;
        break;
      }
      object = readFreepointer(s, object);
    }
    // out_cnt:
    if (cnt !== bulkCnt) {
      slabErr(r, s, pfn, `Bulk free expected ${bulkCnt} objects but found ${cnt}`);
      bulkCnt = cnt;
    }
  }
  if (checksOk) return bulkCnt;
  slabFix(r, s, `Object at ${hex(object)} not freed`);
  return -1;
}

function freeDebug54(r: Reporter, s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, bulkCnt: number): number {
  let object = head;
  let cnt = 0;
  let ok = false;
  out: {
    if (s.checks && !checkSlab(r, s, pfn)) break out;
    for (;;) {
      cnt++;
      if (s.checks && !freeConsistencyChecks(r, s, pfn, object)) break out;
      freeDebugObject(r, s, cpu, pfn, object);
      if (object === tail) break;
      object = readFreepointer(s, object);
    }
    ok = true;
  }
  // out: 5.4 checks the count on the failure path too (a failed check_slab reports
  // "invalid(0)" as well).
  if (cnt !== bulkCnt) slabErr(r, s, pfn, `Bulk freelist count(${bulkCnt}) invalid(${cnt})`);
  if (ok) return bulkCnt;
  slabFix(r, s, `Object at ${hex(object)} not freed`);
  return -1;
}

/**
 * cache_from_obj() with SLAB_CONSISTENCY_CHECKS: warn (uncounted: it is a WARN, not a
 * slab_err) when the object's slab belongs to another cache. 6.x then frees into the
 * object's real cache; 5.4 warns and goes on with the cache it was given, whose
 * free_debug_processing() then rejects the object.
 */
export function cacheFromObj(r: Reporter, s: KmemCache, pfn: number): KmemCache {
  const owner = s.m.u32[pageOff(s.m, pfn) + PAGE.slabCache] - 1;
  if (owner === s.id || owner < 0) return s;
  const real = cacheById(s.m, owner);
  r.line(s, 'warn', `cache_from_obj: Wrong slab cache. ${s.name} but object is from ${real.name}`);
  return s.v66 ? real : s;
}
