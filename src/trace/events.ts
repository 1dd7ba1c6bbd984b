// One line of a kmem trace as text: the kernel's ftrace output (`trace` and `trace_pipe`,
// with or without the header), `trace-cmd report` and `perf script`. Every one prints
// an event as
//
//   <comm>-<pid> [<cpu>] <flags> <timestamp>: <event>: <field>=<value> ...
//
// where the flags column (irq-info) may be absent, `trace-cmd report` may put the kmem
// plugin's "(func+0x24)" before the fields, and `perf script` prints "comm pid" and the
// event as "kmem:<event>". The six allocation events of include/trace/events/kmem.h are
// read, in each kernel's spelling: call_site printed as a hex address (before 5.x) or as
// %pS with a module suffix ("foo+0x70/0xb0 [memleak]"), ptr hashed (%p since 4.15:
// "000000003ce0135a"), raw ("ffff88810d2a4c00", trace-cmd and perf read the binary
// record: "0xffff88810d2a4c00") or NULL; node= and accounted= (kmalloc_node and
// kmem_cache_alloc_node until 6.1, every allocation since), name= on kmem_cache_free
// (5.12+). Any other event is named and counted by the caller.
// The parser reads a line in place, as bytes of a chunk of the file: call sites and
// cache names become numbers (names.ts), so a big trace costs no string per event.
import type { Names } from './names.js';

/** The kmem events replayed, by the kernel's names. */
export const KMEM_EVENTS = [
  'kmalloc',
  'kmalloc_node',
  'kmem_cache_alloc',
  'kmem_cache_alloc_node',
  'kfree',
  'kmem_cache_free',
] as const;
export type KmemEventName = (typeof KMEM_EVENTS)[number];
/** An event kind: its index in KMEM_EVENTS. The first four allocate. */
export const EV = Object.freeze(Object.fromEntries(KMEM_EVENTS.map((n, i) => [n, i]))) as {
  readonly [K in KmemEventName]: number;
};
export const isAlloc = (kind: number): boolean => kind <= EV.kmem_cache_alloc_node;
/** kmalloc and kmalloc_node: the object comes from a kmalloc cache (or the page allocator). */
export const isKmalloc = (kind: number): boolean => kind <= EV.kmalloc_node;

/** What a line is. */
export const LINE = {
  /** one of the six kmem events, read into the parser's event */
  kmem: 0,
  /** a kmem event whose fields cannot be read: `reason` says why */
  malformed: 1,
  /** another event: `other` is its name */
  other: 2,
  /** a comment (the header's "#" lines), a blank line or trace-cmd's "cpus=4" / "version = 6" */
  comment: 3,
  /** "CPU:2 [LOST 12 EVENTS]": the ring buffer overran; `lost` events are missing */
  lost: 4,
  /** none of these */
  unknown: 5,
} as const;

/** A kmem event as read: the parser's one record, overwritten by every line. */
export interface TraceEvent {
  /** index in KMEM_EVENTS */
  kind: number;
  /** the CPU column */
  cpu: number;
  /** the timestamp column, in the trace's clock (seconds with the default clocks) */
  ts: number;
  /** the call site as printed (symbol+offset/size and module, or a hex address), by number in the parser's `sites` */
  site: number;
  /**
   * the pointer as two 32-bit halves of its printed value (the last 16 hex digits):
   * hashed pointers are consistent within a boot, so the printed value names the object
   */
  ptrHi: number;
  ptrLo: number;
  /** bytes_req and bytes_alloc (allocations; 0 on frees) */
  bytesReq: number;
  bytesAlloc: number;
  /** gfp_flags cannot sleep (GFP_ATOMIC, GFP_NOWAIT without a reclaim bit) */
  atomic: boolean;
  /** node= (-1: NUMA_NO_NODE, or not printed) */
  node: number;
  /** name= of kmem_cache_free (5.12+) by number in the parser's `names`, else -1 */
  name: number;
}

const SP = 32;
const TAB = 9;
const COLON = 58;
const DOT = 46;
const EQ = 61;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean => c === SP || c === TAB;

/** Hex digit value, or -1. */
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** A keyword's bytes, as a Buffer like the chunks read: element loads stay monomorphic. */
const bytesOf = (text: string): Buffer => Buffer.from(text, 'latin1');
/** Whether u[a, a + w.length) is w. */
function startsWith(u: Uint8Array, a: number, w: Uint8Array): boolean {
  for (let i = 0; i < w.length; i++) if (u[a + i] !== w[i]) return false;
  return true;
}
/** Whether w occurs in u[a, b). */
function contains(u: Uint8Array, a: number, b: number, w: Uint8Array): boolean {
  for (let i = a; i + w.length <= b; i++) if (u[i] === w[0] && startsWith(u, i, w)) return true;
  return false;
}

const NAMES = KMEM_EVENTS.map(bytesOf);
const K = {
  ptr: bytesOf('ptr'),
  node: bytesOf('node'),
  name: bytesOf('name'),
  callSite: bytesOf('call_site'),
  bytesReq: bytesOf('bytes_req'),
  gfpFlags: bytesOf('gfp_flags'),
  bytesAlloc: bytesOf('bytes_alloc'),
  callSiteEq: bytesOf('call_site='),
  ptrEq: bytesOf(' ptr='),
  bytesReqEq: bytesOf(' bytes_req='),
  bytesAllocEq: bytesOf(' bytes_alloc='),
  gfpFlagsEq: bytesOf(' gfp_flags='),
  nodeEq: bytesOf(' node='),
  nameEq: bytesOf(' name='),
  null: bytesOf('(null)'),
  atomic: bytesOf('GFP_ATOMIC'),
  nowait: bytesOf('GFP_NOWAIT'),
  canSleep: ['RECLAIM', 'GFP_KERNEL', 'GFP_NOFS', 'GFP_NOIO', 'GFP_USER'].map(bytesOf),
};

/** A kmem event's name in u[a, b), as its kind, or -1. */
function kmemKind(u: Uint8Array, a: number, b: number): number {
  for (let k = 0; k < NAMES.length; k++) if (NAMES[k].length === b - a && startsWith(u, a, NAMES[k])) return k;
  return -1;
}

/** Whether a line mentions a kmem event as "<name>:" (for a line whose columns cannot be read). */
const KMEM_MENTION = /\b(?:kmem:)?(?:kmalloc|kmalloc_node|kmem_cache_alloc|kmem_cache_alloc_node|kfree|kmem_cache_free):/;

/** Which field the previous token was: a bare token continues call_site ("[memleak]"). */
const F_NONE = 0;
const F_CALL_SITE = 1;
const F_OTHER = 2;
/** "ptr=" with its value after spaces: kernels before 4.15 pad NULL to "ptr=          (null)" */
const F_PTR_EMPTY = 3;
/** A numeric field not on the line (int() gives -2 for one that is no number). */
const ABSENT = -3;

/** Reads lines; `ev`, `reason`, `other` and `lost` hold what the last line was. */
export class LineParser {
  readonly ev: TraceEvent = {
    kind: 0,
    cpu: 0,
    ts: 0,
    site: 0,
    ptrHi: 0,
    ptrLo: 0,
    bytesReq: 0,
    bytesAlloc: 0,
    atomic: false,
    node: -1,
    name: -1,
  };
  /** why the last line was malformed */
  reason = '';
  /** the last other event's name */
  other = '';
  /** events the last "[LOST n EVENTS]" line reported */
  lost = 0;
  /** the last event was named with its subsystem, "kmem:kmalloc" (perf script) */
  prefixed = false;
  /** the end of the timestamp read by ts() */
  private at = 0;

  /** `sites` and `names` number the call sites and cache names read. */
  constructor(
    readonly sites: Names,
    readonly names: Names,
  ) {}

  /** Read u[a, b) (one line, no newline). Returns a LINE kind. */
  parse(u: Buffer, a: number, b: number): number {
    let p = a;
    while (p < b && isSpace(u[p])) p++;
    while (b > p && (isSpace(u[b - 1]) || u[b - 1] === 13)) b--;
    if (p === b || u[p] === 35 /* # */) return LINE.comment;
    // The CPU column: the first "[digits]" (a comm may hold other brackets).
    let cpu = -1;
    let q = p;
    for (; q < b; q++) {
      if (u[q] !== 91 /* [ */) continue;
      let r = q + 1;
      let n = 0;
      while (r < b && isDigit(u[r])) n = n * 10 + u[r++] - 48;
      if (r > q + 1 && r < b && u[r] === 93 /* ] */) {
        cpu = n;
        q = r + 1;
        break;
      }
    }
    if (cpu < 0) return this.special(u, p, b);
    // [flags] timestamp: [period] event:
    q = skipSpaces(u, q, b);
    let ts = this.ts(u, q, b);
    if (Number.isNaN(ts)) {
      q = skipSpaces(u, tokenEnd(u, q, b), b); // the flags column (irq-info)
      ts = this.ts(u, q, b);
      if (Number.isNaN(ts)) return this.unreadable(u, p, b, 'cannot read the timestamp column');
    }
    q = skipSpaces(u, this.at, b);
    let e = tokenEnd(u, q, b);
    if (isDigit(u[q]) && u[e - 1] !== COLON) {
      q = skipSpaces(u, e, b); // perf script's period column
      e = tokenEnd(u, q, b);
    }
    if (e - q < 2 || u[e - 1] !== COLON) return this.unreadable(u, p, b, 'cannot read the event name');
    // "kmem:kmalloc:" (perf) or "kmalloc:"
    let nameStart = q;
    for (let i = e - 2; i > q; i--) {
      if (u[i] === COLON) {
        nameStart = i + 1;
        break;
      }
    }
    this.prefixed = nameStart > q;
    const kind = kmemKind(u, nameStart, e - 1);
    if (kind < 0) {
      this.other = u.toString('latin1', nameStart, e - 1);
      return LINE.other;
    }
    const ev = this.ev;
    ev.kind = kind;
    ev.cpu = cpu;
    ev.ts = ts;
    const fast = this.fieldsInOrder(u, skipSpaces(u, e, b), b);
    return fast >= 0 ? fast : this.fields(u, e, b);
  }

  /**
   * The fields as every kernel prints them, in order: call_site= (a module suffix may
   * follow), ptr=, then bytes_req= bytes_alloc= gfp_flags= [node=] of an allocation or
   * [name=] of a free; what follows is not read. -1 when the line differs (trace-cmd's
   * plugin column, a field missing or out of order): fields() reads it then, key by key.
   */
  private fieldsInOrder(u: Buffer, t: number, b: number): number {
    const ev = this.ev;
    if (!startsWith(u, t, K.callSiteEq)) return -1;
    const cs = t + K.callSiteEq.length;
    let i = cs;
    while (i < b && !(u[i] === SP && startsWith(u, i, K.ptrEq))) i++;
    if (i >= b || i === cs) return -1;
    const csEnd = i;
    const ptr = i + K.ptrEq.length;
    const ptrEnd = tokenEnd(u, ptr, b);
    if (!this.pointer(u, ptr, ptrEnd)) return -1;
    i = ptrEnd;
    if (!isAlloc(ev.kind)) {
      ev.bytesReq = 0;
      ev.bytesAlloc = 0;
      ev.atomic = false;
      ev.node = -1;
      ev.name = -1;
      if (startsWith(u, i, K.nameEq)) {
        const n = i + K.nameEq.length;
        const nEnd = tokenEnd(u, n, b);
        if (nEnd === n) return -1;
        ev.name = this.names.id(u, n, nEnd);
      } else if (i < b) return -1;
      ev.site = this.sites.id(u, cs, csEnd);
      return LINE.kmem;
    }
    if (!startsWith(u, i, K.bytesReqEq)) return -1;
    i += K.bytesReqEq.length;
    let e = tokenEnd(u, i, b);
    const req = int(u, i, e);
    if (req < 0 || !startsWith(u, e, K.bytesAllocEq)) return -1;
    i = e + K.bytesAllocEq.length;
    e = tokenEnd(u, i, b);
    const bytes = int(u, i, e);
    if (bytes < 0 || !startsWith(u, e, K.gfpFlagsEq)) return -1;
    i = e + K.gfpFlagsEq.length;
    e = tokenEnd(u, i, b);
    ev.atomic = cannotSleep(u, i, e);
    ev.node = -1;
    if (startsWith(u, e, K.nodeEq)) {
      i = e + K.nodeEq.length;
      e = tokenEnd(u, i, b);
      ev.node = int(u, i, e);
      if (ev.node === -2) return -1;
    }
    ev.bytesReq = req;
    ev.bytesAlloc = bytes;
    ev.name = -1;
    ev.site = this.sites.id(u, cs, csEnd);
    return LINE.kmem;
  }

  /** Lines without a CPU column: trace-cmd's header, lost-event notices, anything else. */
  private special(u: Buffer, p: number, b: number): number {
    const line = u.toString('latin1', p, Math.min(b, p + 200));
    const lost = /\[LOST (\d+) EVENTS\]/.exec(line);
    if (lost) {
      this.lost = Number(lost[1]);
      return LINE.lost;
    }
    if (/^(cpus=\d+|version = \d+|CPU \d+ is empty|CPU\d+ data recorded at offset)/.test(line)) return LINE.comment;
    return KMEM_MENTION.test(line) ? this.malformed('no [CPU] column') : LINE.unknown;
  }

  /** A line whose columns could not be read: malformed if it names a kmem event, else unknown. */
  private unreadable(u: Buffer, p: number, b: number, why: string): number {
    return KMEM_MENTION.test(u.toString('latin1', p, b)) ? this.malformed(why) : LINE.unknown;
  }

  private malformed(reason: string): number {
    this.reason = reason;
    return LINE.malformed;
  }

  /** A timestamp token "312444.141956:" at q, or NaN; sets `at` past its colon. */
  private ts(u: Uint8Array, q: number, b: number): number {
    let r = q;
    let whole = 0;
    while (r < b && isDigit(u[r])) whole = whole * 10 + u[r++] - 48;
    if (r === q) return Number.NaN;
    let frac = 0;
    let scale = 1;
    if (r < b && u[r] === DOT) {
      r++;
      while (r < b && isDigit(u[r])) {
        frac = frac * 10 + u[r++] - 48;
        scale *= 10;
      }
    }
    if (r >= b || u[r] !== COLON) return Number.NaN;
    this.at = r + 1;
    return whole + frac / scale;
  }

  /** The key=value fields from q to b into `ev`; checks what the event needs. */
  private fields(u: Buffer, q: number, b: number): number {
    const ev = this.ev;
    const alloc = isAlloc(ev.kind);
    let callSite = -1;
    let callSiteEnd = -1;
    /** trace-cmd's kmem plugin prints "(func+0x24) " before the fields: a symbol for a hex call_site */
    let plugin = -1;
    let pluginEnd = -1;
    let ptr = -1;
    let ptrEnd = -1;
    let req = ABSENT;
    let bytes = ABSENT;
    let gfp = -1;
    let gfpEnd = -1;
    let name = -1;
    let nameEnd = -1;
    ev.node = -1;
    let last = F_NONE;
    for (let t = skipSpaces(u, q, b); t < b; t = skipSpaces(u, t, b)) {
      let eq = -1;
      let end = t;
      for (; end < b; end++) {
        const c = u[end];
        if (c === SP || c === TAB) break;
        if (c === EQ && eq < 0) eq = end;
      }
      if (eq < 0) {
        if (last === F_CALL_SITE) callSiteEnd = end;
        else if (last === F_PTR_EMPTY) {
          ptr = t;
          ptrEnd = end;
          last = F_OTHER;
        } else if (last === F_NONE && u[t] === 40 /* ( */ && u[end - 1] === 41 /* ) */) {
          plugin = t + 1;
          pluginEnd = end - 1;
        }
        t = end;
        continue;
      }
      const v = eq + 1;
      last = F_OTHER;
      switch (eq - t) {
        case 3:
          if (startsWith(u, t, K.ptr)) {
            ptr = v;
            ptrEnd = end;
            if (v === end) last = F_PTR_EMPTY;
          }
          break;
        case 4:
          if (startsWith(u, t, K.node)) ev.node = int(u, v, end);
          else if (startsWith(u, t, K.name)) {
            name = v;
            nameEnd = end;
          }
          break;
        case 9:
          if (startsWith(u, t, K.callSite)) {
            callSite = v;
            callSiteEnd = end;
            last = F_CALL_SITE;
          } else if (startsWith(u, t, K.bytesReq)) req = int(u, v, end);
          else if (startsWith(u, t, K.gfpFlags)) {
            gfp = v;
            gfpEnd = end;
          }
          break;
        case 11:
          if (startsWith(u, t, K.bytesAlloc)) bytes = int(u, v, end);
          break;
      }
      t = end;
    }
    if (callSite < 0) return this.malformed('no call_site=');
    if (ptr < 0) return this.malformed('no ptr=');
    if (!this.pointer(u, ptr, ptrEnd)) return this.malformed(`ptr=${u.toString('latin1', ptr, ptrEnd)} is not a pointer`);
    if (alloc) {
      if (bytes === ABSENT) return this.malformed('no bytes_alloc=');
      if (bytes < 0) return this.malformed('bytes_alloc is not a number');
      if (req !== ABSENT && req < 0) return this.malformed('bytes_req is not a number');
    }
    const hexCallSite = plugin >= 0 && isHex(u, callSite, callSiteEnd);
    ev.site = hexCallSite ? this.sites.id(u, plugin, pluginEnd) : this.sites.id(u, callSite, callSiteEnd);
    ev.name = name >= 0 ? this.names.id(u, name, nameEnd) : -1;
    if (!alloc) {
      ev.bytesReq = 0;
      ev.bytesAlloc = 0;
      ev.atomic = false;
      return LINE.kmem;
    }
    ev.bytesAlloc = bytes;
    ev.bytesReq = req === ABSENT ? bytes : req;
    ev.atomic = gfp >= 0 && cannotSleep(u, gfp, gfpEnd);
    return LINE.kmem;
  }

  /**
   * A pointer in u[a, b): hex with or without 0x, "(null)"; into ev.ptrHi/ptrLo, the
   * last 16 hex digits (a wider value is not a pointer of a 64-bit kernel).
   */
  private pointer(u: Uint8Array, a: number, b: number): boolean {
    const ev = this.ev;
    if (b - a === 6 && startsWith(u, a, K.null)) {
      ev.ptrHi = 0;
      ev.ptrLo = 0;
      return true;
    }
    if (b - a > 2 && u[a] === 48 && (u[a + 1] | 0x20) === 120 /* 0x */) a += 2;
    if (a === b || b - a > 16) return false;
    let hi = 0;
    let lo = 0;
    const split = Math.max(a, b - 8);
    for (let i = a; i < b; i++) {
      const d = hexVal(u[i]);
      if (d < 0) return false;
      if (i < split) hi = (hi * 16 + d) >>> 0;
      else lo = (lo * 16 + d) >>> 0;
    }
    ev.ptrHi = hi;
    ev.ptrLo = lo;
    return true;
  }
}

/** A decimal integer in u[a, b) (a leading '-' allowed); -2 when it is not one. */
function int(u: Uint8Array, a: number, b: number): number {
  let neg = false;
  if (a < b && u[a] === 45 /* - */) {
    neg = true;
    a++;
  }
  if (a === b) return -2;
  let n = 0;
  for (let i = a; i < b; i++) {
    const c = u[i];
    if (!isDigit(c)) return -2;
    n = n * 10 + c - 48;
  }
  return neg ? -n : n;
}

const skipSpaces = (u: Uint8Array, q: number, b: number): number => {
  while (q < b && isSpace(u[q])) q++;
  return q;
};

const tokenEnd = (u: Uint8Array, q: number, b: number): number => {
  while (q < b && !isSpace(u[q])) q++;
  return q;
};

function isHex(u: Uint8Array, a: number, b: number): boolean {
  if (b - a > 2 && u[a] === 48 && (u[a + 1] | 0x20) === 120) a += 2;
  for (let i = a; i < b; i++) if (hexVal(u[i]) < 0) return false;
  return a < b;
}

/**
 * !gfpflags_allow_blocking() from the printed flags: GFP_ATOMIC and GFP_NOWAIT lack
 * __GFP_DIRECT_RECLAIM; GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_USER and the rest have it.
 * show_gfp_flags() prints the composite masks first, so one of the two leads the value.
 * A numeric value (a kernel that printed no names) counts as GFP_KERNEL.
 */
function cannotSleep(u: Uint8Array, a: number, b: number): boolean {
  if (!startsWith(u, a, K.atomic) && !startsWith(u, a, K.nowait)) return false;
  return !K.canSleep.some((w) => contains(u, a, b, w));
}
