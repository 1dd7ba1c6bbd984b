// Synthetic kmem traces in the kernel's ftrace text (6.x lines: %pS call sites, hashed
// pointers, node= and accounted= on allocations, name= on kmem_cache_free), made on the
// fly in chunks: for the tests (a planted leak, cross-CPU frees, a stream of any length
// in bounded memory) and the bench. Seeded: the same options give the same text.
//
// The workload: objects of a few kinds (two named caches, kmalloc of two size ranges)
// allocated on a random CPU and freed later, the live set held near `live`; with chance
// `crossCpu` a free runs on another CPU than the object's allocation. Pointers are reused
// after their free, as an allocator reuses addresses, so a long trace names a bounded set
// of pointers. A leak is a call site that allocates `leak.count` objects spread over the
// trace and never frees them. The trace ends by freeing everything else (unless `drain`
// is false): the objects live at the end are then exactly the leak's.
import { Rng } from '../rng.js';
import { generatedSource, type TraceSource } from './source.js';

export interface SynthOptions {
  /** kmem events in all */
  events: number;
  cpus?: number;
  /** objects live at once, about (besides the leak) */
  live?: number;
  /** the chance that a free runs on another CPU than the allocation */
  crossCpu?: number;
  /**
   * producer and consumer (xmalloc's pattern): even CPUs only allocate, each odd CPU frees
   * what the CPU before it allocated; every free is a remote free (crossCpu is ignored)
   */
  handoff?: boolean;
  /** a call site that allocates and never frees */
  leak?: { count: number; callSite?: string; bytesReq?: number; bytesAlloc?: number };
  /** end by freeing every object but the leak's (default); false: the live set stays live */
  drain?: boolean;
  /** the ftrace header (as the trace file has it) before the events */
  header?: boolean;
  seed?: number;
  /** the first timestamp, seconds */
  start?: number;
}

export const LEAK_CALL_SITE = 'leaky_probe+0x70/0xb0 [memleak]';

interface Kind {
  alloc: 'kmem_cache_alloc' | 'kmalloc';
  allocSite: string;
  free: 'kmem_cache_free' | 'kfree';
  freeSite: string;
  name?: string;
  /** bytes_req range; bytes_alloc is the cache's size */
  min: number;
  max: number;
  gfp: string;
}

const KINDS: readonly Kind[] = [
  {
    alloc: 'kmem_cache_alloc',
    allocSite: '__alloc_file+0x28/0x110',
    free: 'kmem_cache_free',
    freeSite: '__fput+0x15a/0x250',
    name: 'filp',
    min: 256,
    max: 256,
    gfp: 'GFP_KERNEL|__GFP_ZERO',
  },
  {
    alloc: 'kmem_cache_alloc',
    allocSite: '__d_alloc+0x2b/0x1e0',
    free: 'kmem_cache_free',
    freeSite: '__dentry_kill+0x13a/0x180',
    name: 'dentry',
    min: 192,
    max: 192,
    gfp: 'GFP_KERNEL',
  },
  {
    alloc: 'kmalloc',
    allocSite: '__alloc_skb+0x8e/0x1d0',
    free: 'kfree',
    freeSite: 'skb_release_data+0x106/0x1a0',
    min: 100,
    max: 1500,
    gfp: 'GFP_ATOMIC|__GFP_NOWARN',
  },
  {
    alloc: 'kmalloc',
    allocSite: 'kstrdup+0x2d/0x60',
    free: 'kfree',
    freeSite: 'kfree_const+0x15/0x20',
    min: 8,
    max: 64,
    gfp: 'GFP_KERNEL',
  },
];

const SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
const kmallocSize = (n: number): number => SIZES.find((s) => s >= n) ?? n;

const HEADER = `# tracer: nop
#
# entries-in-buffer/entries-written: 0/0   #P:0
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
`;

/** A pointer as %p prints it: 32 hashed bits, zero-padded to 16 digits. A bijection of `id`, so never two alike. */
function hashedPtr(id: number): string {
  let x = id >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return `00000000${x.toString(16).padStart(8, '0')}`;
}

/** Below the live target an event frees with this chance (else allocates): the live set climbs to the target, then holds. */
const UNDER_TARGET_FREE = 0.25;
/** Lines per chunk yielded. */
const CHUNK_LINES = 512;

/** The trace's text, in chunks of whole lines. */
export function* synthTrace(o: SynthOptions): Generator<string> {
  const cpus = o.cpus ?? 4;
  const target = o.live ?? 1000;
  const cross = o.crossCpu ?? 0.3;
  const rng = new Rng(o.seed ?? 1, 0x7ace);
  const leak = o.leak ? { callSite: LEAK_CALL_SITE, bytesReq: 1000, bytesAlloc: 1024, ...o.leak } : null;
  const prefix = Array.from({ length: cpus }, (_, c) => `          <...>-${1000 + c}    [${String(c).padStart(3, '0')}] ..... `);
  // Live objects per CPU (of their allocation): pointer id and kind, packed id * 8 + kind.
  const held = Array.from({ length: cpus }, () => [] as number[]);
  let live = 0;
  const freeIds: number[] = [];
  let nextId = 1;
  let tUs = Math.round((o.start ?? 1000) * 1e6);
  let emitted = 0;
  let leaked = 0;
  const leakEvery = leak && leak.count > 0 ? Math.max(1, Math.floor(o.events / (leak.count + 1))) : 0;
  let lines: string[] = o.header ? [HEADER.trimEnd()] : [];
  const ts = (): string => {
    tUs += 20 + rng.below(80); // some 20,000 kmem events a second, as a busy machine makes
    return `${Math.floor(tUs / 1e6)}.${String(tUs % 1e6).padStart(6, '0')}`;
  };
  const takeId = (): number => freeIds.pop() ?? nextId++;
  /** Each id's pointer text, made once: ids are reused, so this stays as small as the live set. */
  const ptrText: string[] = [];
  const ptrOf = (id: number): string => (ptrText[id] ??= hashedPtr(id));
  const allocLine = (cpu: number, k: Kind, site: string, id: number, req: number, bytes: number): string =>
    `${prefix[cpu]}${ts()}: ${k.alloc}: call_site=${site} ptr=${ptrOf(id)} bytes_req=${req} bytes_alloc=${bytes} gfp_flags=${k.gfp} node=-1 accounted=false`;
  const freeLine = (cpu: number, k: Kind, id: number): string =>
    `${prefix[cpu]}${ts()}: ${k.free}: call_site=${k.freeSite} ptr=${ptrOf(id)}${k.name ? ` name=${k.name}` : ''}`;
  const freeOne = (cpu: number, from: number): string => {
    const list = held[from];
    const i = rng.below(list.length);
    const packed = list[i];
    list[i] = list[list.length - 1];
    list.pop();
    live--;
    const id = packed >>> 3;
    freeIds.push(id);
    return freeLine(cpu, KINDS[packed & 7], id);
  };
  const allocNew = (cpu: number): string => {
    const kind = rng.below(KINDS.length);
    const k = KINDS[kind];
    const req = k.min + rng.below(k.max - k.min + 1);
    const id = takeId();
    held[cpu].push(id * 8 + kind);
    live++;
    return allocLine(cpu, k, k.allocSite, id, req, kmallocSize(req));
  };
  while (emitted < o.events) {
    const cpu = rng.below(cpus);
    let line: string;
    const leakLeft = leak ? leak.count - leaked : 0;
    const drain = o.drain !== false;
    const endsAt = drain ? live + leakLeft : leakLeft;
    if (leak && leakLeft > 0 && (o.events - emitted <= endsAt || (emitted > 0 && emitted % leakEvery === 0))) {
      leaked++;
      line = allocLine(cpu, KINDS[2], leak.callSite, takeId(), leak.bytesReq, leak.bytesAlloc);
    } else if (drain && o.events - emitted <= live) {
      // The end: every object left but the leak's, freed by the CPU that allocated it (the next with handoff).
      let from = cpu;
      while (held[from].length === 0) from = (from + 1) % cpus;
      line = freeOne(o.handoff ? (from + 1) % cpus : from, from);
    } else if (o.handoff) {
      const free = live > 0 && (live >= target || rng.float() < UNDER_TARGET_FREE);
      const pair = 2 * rng.below(Math.max(1, cpus >> 1));
      let from = pair;
      while (free && held[from].length === 0) from = (from + 2) % (cpus & ~1 || 1);
      line = free ? freeOne((from + 1) % cpus, from) : allocNew(pair);
    } else {
      // A free when at the target (else by chance), of another CPU's object with chance `cross`.
      let from = cpu;
      if (cpus > 1 && rng.float() < cross) from = (cpu + 1 + rng.below(cpus - 1)) % cpus;
      const free = held[from].length > 0 && (live >= target || rng.float() < UNDER_TARGET_FREE);
      line = free ? freeOne(cpu, from) : allocNew(cpu);
    }
    lines.push(line);
    emitted++;
    if (lines.length >= CHUNK_LINES) {
      yield `${lines.join('\n')}\n`;
      lines = [];
    }
  }
  if (lines.length) yield `${lines.join('\n')}\n`;
}

/** A synthetic trace as a source: generated afresh, in chunks, each time it is read. */
export const synthSource = (o: SynthOptions, name = 'synthetic.trace'): TraceSource => generatedSource(name, () => synthTrace(o));
