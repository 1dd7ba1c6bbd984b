// Looking at and poking simulated memory, as a kernel test does to its objects (writing
// past the end of one, over a freed one, over a free pointer), and a dump of one object
// in the layout print_trailer() prints: red zones, object bytes, free pointer, tracks,
// padding. Main thread (or any thread while no CPU runs).
import { SlabError } from '../../errors.js';
import { addrByte, addrToPfn, addrWord, type Machine, pageOff, pfnToAddr, validAddr } from '../../shm/machine.js';
import { PAGE, PG, SLAB_COUNTERS } from '../../shm/structs.js';
import { objectsOf } from '../../shm/word.js';
import {
  checkValidPointer,
  getOrigSize,
  metadataEnd,
  readTrack,
  sizeFromObject,
  type Track,
  TRACK_ALLOC,
  TRACK_FREE,
  trailerLines,
} from './debug.js';
import { cacheById, type KmemCache } from './kmem_cache.js';
import { freelistPtr, objectAt, virtToHeadPfn } from './objects.js';
import { hex } from './report.js';
import { slabPlaces, slabRecord } from './walk.js';

function checkRange(m: Machine, addr: number, len: number, what: string): void {
  if (!(Number.isInteger(len) && len >= 0))
    throw new SlabError('EINVAL', `${what}: length ${len} must be a non-negative integer`);
  if (!validAddr(m, addr) || (len > 0 && !validAddr(m, addr + len - 1))) {
    throw new SlabError(
      'EINVAL',
      `${what}(${hex(addr)}, ${len}): outside simulated memory (${hex(m.cfg.pageSize)}..${hex(m.totalPfns * m.cfg.pageSize - 1)})`,
    );
  }
}

/** A copy of `len` bytes of simulated memory at `addr`. */
export function readBytes(m: Machine, addr: number, len: number): Uint8Array {
  checkRange(m, addr, len, 'readBytes');
  return m.u8.slice(addrByte(m, addr), addrByte(m, addr) + len);
}

/** Write bytes into simulated memory at `addr` (what a buggy kernel user does). */
export function writeBytes(m: Machine, addr: number, bytes: ArrayLike<number>): void {
  checkRange(m, addr, bytes.length, 'writeBytes');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (!(Number.isInteger(b) && b >= 0 && b <= 255)) throw new SlabError('EINVAL', `writeBytes: byte ${i} = ${b} is not 0..255`);
  }
  m.u8.set(Array.from(bytes), addrByte(m, addr));
}

/** print_hex_dump(KERN_ERR, prefix, DUMP_PREFIX_ADDRESS, 16, 1, addr, len, true). */
export function hexDump(m: Machine, prefix: string, addr: number, len: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < len; i += 16) {
    const row = Array.from(m.u8.subarray(addrByte(m, addr + i), addrByte(m, addr + i) + Math.min(16, len - i)));
    const hexPart = row.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(`${prefix}${(addr + i).toString(16).padStart(8, '0')}: ${hexPart.padEnd(49)}${ascii}`);
  }
  return out;
}

export interface ObjectDump {
  cache: string;
  cacheId: number;
  /** the slab's pfn and the object's index in it */
  slab: number;
  index: number;
  /** the object's address (past its left red zone) and its slot's first byte */
  object: number;
  slot: number;
  /** on no freelist (neither the slab's nor a CPU's) */
  allocated: boolean;
  /** the left red zone (SLAB_RED_ZONE), else null */
  leftRedzone: number[] | null;
  /** object_size bytes */
  bytes: number[];
  /** object_size..inuse: the right red zone (SLAB_RED_ZONE) or alignment padding */
  rightRedzone: number[];
  freePointer: {
    /** where it is stored (object + s->offset) */
    at: number;
    /** the stored word (obfuscated when the cache is hardened) */
    stored: number;
    /** the pointer it decodes to */
    decoded: number;
    /** check_valid_pointer(): NULL or an object start in this slab */
    valid: boolean;
  };
  /** SLAB_STORE_USER's tracks, else null */
  tracks: { alloc: Track; free: Track } | null;
  /** 6.6 kmalloc caches with STORE_USER: the size kmalloc was asked for */
  origSize: number | null;
  /** the bytes after the metadata up to the next slot */
  padding: number[];
  /** the dump as print_trailer() prints it */
  lines: string[];
}

/** The cache and slab of a slab object address (any address inside its slot). */
function locate(m: Machine, addr: number): { s: KmemCache; pfn: number; index: number } {
  if (!validAddr(m, addr)) throw new SlabError('EINVAL', `dumpObject(${hex(addr)}): outside simulated memory`);
  const pfn = virtToHeadPfn(m, addr);
  const p = pageOff(m, pfn);
  if (!(m.u32[p + PAGE.flags] & PG.slab))
    throw new SlabError('EINVAL', `dumpObject(${hex(addr)}): page ${addrToPfn(m, addr)} is not a slab page`);
  const s = cacheById(m, m.u32[p + PAGE.slabCache] - 1);
  const objects = objectsOf(m.u32[p + SLAB_COUNTERS]);
  const index = Math.floor((addr - pfnToAddr(m, pfn)) / s.size);
  if (index >= objects) throw new SlabError('EINVAL', `dumpObject(${hex(addr)}): past the last object of slab ${pfn}`);
  return { s, pfn, index };
}

const bytesAt = (m: Machine, addr: number, len: number): number[] =>
  Array.from(m.u8.subarray(addrByte(m, addr), addrByte(m, addr) + Math.max(0, len)));

/** One object of a slab, with everything SLUB keeps around it. */
export function dumpObject(m: Machine, addr: number): ObjectDump {
  const { s, pfn, index } = locate(m, addr);
  const object = objectAt(s, pfn, index);
  const base = pfnToAddr(m, pfn);
  const place = slabPlaces(s).get(pfn) ?? { kind: 'none' as const };
  const allocated = !slabRecord(s, pfn, place).freeIdx.includes(index);
  const fpAt = object + s.offset;
  const stored = m.u32[addrWord(m, fpAt)];
  const decoded = freelistPtr(s, stored, fpAt);
  const tracks = s.storeUser ? { alloc: readTrack(s, object, TRACK_ALLOC), free: readTrack(s, object, TRACK_FREE) } : null;
  const sizeFromObj = sizeFromObject(s);
  const off = Math.min(metadataEnd(s), sizeFromObj);
  const lines = [...trailerLines(s, pfn, object), ''];
  if (s.redZone) lines.push(...hexDump(m, 'Redzone  ', object - s.redLeftPad, s.redLeftPad));
  else if (object > base + 16) lines.push(...hexDump(m, 'Bytes b4 ', object - 16, 16));
  lines.push(...hexDump(m, 'Object   ', object, Math.min(s.objectSize, m.cfg.pageSize)));
  if (s.redZone) lines.push(...hexDump(m, 'Redzone  ', object + s.objectSize, s.inuse - s.objectSize));
  if (off !== sizeFromObj) lines.push(...hexDump(m, 'Padding  ', object + off, sizeFromObj - off));
  return {
    cache: s.name,
    cacheId: s.id,
    slab: pfn,
    index,
    object,
    slot: object - s.redLeftPad,
    allocated,
    leftRedzone: s.redZone ? bytesAt(m, object - s.redLeftPad, s.redLeftPad) : null,
    bytes: bytesAt(m, object, s.objectSize),
    rightRedzone: bytesAt(m, object + s.objectSize, s.inuse - s.objectSize),
    freePointer: { at: fpAt, stored, decoded, valid: checkValidPointer(s, pfn, decoded) },
    tracks,
    origSize: s.origSizeTracked ? getOrigSize(s, object) : null,
    padding: bytesAt(m, object + off, sizeFromObj - off),
    lines,
  };
}
