// create(config) sizes and initialises the machine; attach(sab) only builds views.
// Together with structs.ts this is the only code that turns indices into offsets.
import { type MachineConfig, PROFILES, resolveConfig } from '../config.js';
import { SlabError } from '../errors.js';
import { initZone } from '../mm/free_area.js';
import { setupZonePageset } from '../mm/pcp_setup.js';
import { alignWords, fieldAt } from './struct.js';
import {
  CACHE_CPU,
  CACHE_NODE,
  CPU,
  GLOBAL,
  HALF_NAMES,
  KMEM_CACHE,
  LAYOUT_VERSION,
  MAGIC,
  MAX_CACHES,
  NODE,
  PAGE,
  PCP,
  PG,
} from './structs.js';

/** Views and derived constants of one machine; cheap to build, shared by nothing. */
export interface Machine {
  /** the buffer: every thread of the machine sees these bytes */
  readonly sab: SharedArrayBuffer;
  /** its shape */
  readonly cfg: Readonly<MachineConfig>;
  /** the buffer as 32-bit words: `m.u32[w]` is word w (plain reads, and writes in create()) */
  readonly u32: Uint32Array;
  /** the same words, signed (Atomics on them) */
  readonly i32: Int32Array;
  /** the buffer as 64-bit words: even word w is `m.i64[w >> 1]` (cas64) */
  readonly i64: BigInt64Array;
  /** the buffer as bytes */
  readonly u8: Uint8Array;
  /** log2 of the page size */
  readonly pageShift: number;
  /** pages of each NUMA node */
  readonly pagesPerNode: number;
  /** pfns 0..totalPfns-1 exist; pfn 0 is the reserved null page */
  readonly totalPfns: number;
  /** word offset of the zones (NODE) */
  readonly nodeBase: number;
  /** word offset of the page descriptors (PAGE) */
  readonly pageBase: number;
  /** word offset of the per-CPU regions (CPU) */
  readonly cpuBase: number;
  /** word offset of PCP[node 0][cpu 0]; a node's pagesets are contiguous */
  readonly pcpBase: number;
  /** word offset of the caches (KMEM_CACHE) */
  readonly cacheBase: number;
  /** word offset of the per-cache per-CPU regions (CACHE_CPU) */
  readonly cacheCpuBase: number;
  /** word offset of the per-cache per-node regions (CACHE_NODE) */
  readonly cacheNodeBase: number;
  /** word offset of simulated physical address 0 */
  readonly memBase: number;
  /**
   * Per pfn, 1 once the page allocator has handed the page out since trackPages() (set
   * by prepNewPage), so that restore() rewrites only those pages of simulated memory;
   * null (the default) when nobody restores this machine.
   */
  touched: Uint8Array | null;
}

function layoutOf(cfg: MachineConfig) {
  const pagesPerNode = Math.floor(cfg.memory / cfg.pageSize / cfg.nodes);
  const totalPfns = 1 + cfg.nodes * pagesPerNode;
  const nodeBase = alignWords(GLOBAL.STRIDE, 32); // 128-byte aligned
  const pageBase = alignWords(nodeBase + cfg.nodes * NODE.STRIDE, 32);
  const cpuBase = alignWords(pageBase + totalPfns * PAGE.STRIDE, 32);
  const pcpBase = alignWords(cpuBase + cfg.cpus * CPU.STRIDE, 32);
  const cacheBase = alignWords(pcpBase + cfg.nodes * cfg.cpus * PCP.STRIDE, 32);
  const cacheCpuBase = alignWords(cacheBase + MAX_CACHES * KMEM_CACHE.STRIDE, 32);
  const cacheNodeBase = alignWords(cacheCpuBase + MAX_CACHES * cfg.cpus * CACHE_CPU.STRIDE, 32);
  const memBase = alignWords(cacheNodeBase + MAX_CACHES * cfg.nodes * CACHE_NODE.STRIDE, cfg.pageSize / 4);
  const totalWords = memBase + (totalPfns * cfg.pageSize) / 4;
  return {
    pagesPerNode,
    totalPfns,
    nodeBase,
    pageBase,
    cpuBase,
    pcpBase,
    cacheBase,
    cacheCpuBase,
    cacheNodeBase,
    memBase,
    totalWords,
  };
}

function views(sab: SharedArrayBuffer) {
  return {
    u32: new Uint32Array(sab),
    i32: new Int32Array(sab),
    i64: new BigInt64Array(sab),
    u8: new Uint8Array(sab),
  };
}

/** Size, allocate and initialise a machine. The only writer of initial state. */
export function create(partial: Partial<MachineConfig> = {}): Machine {
  const cfg = resolveConfig(partial);
  const L = layoutOf(cfg);
  const sab = new SharedArrayBuffer(L.totalWords * 4);
  const v = views(sab);
  const g = v.u32;
  g[GLOBAL.magic] = MAGIC;
  g[GLOBAL.version] = LAYOUT_VERSION;
  g[GLOBAL.totalWords] = L.totalWords;
  g[GLOBAL.cpus] = cfg.cpus;
  g[GLOBAL.nodes] = cfg.nodes;
  g[GLOBAL.pageSize] = cfg.pageSize;
  g[GLOBAL.pageShift] = Math.log2(cfg.pageSize);
  g[GLOBAL.memory] = cfg.memory;
  g[GLOBAL.profile] = PROFILES.indexOf(cfg.profile);
  g[GLOBAL.pagesPerNode] = L.pagesPerNode;
  g[GLOBAL.totalPfns] = L.totalPfns;
  g[GLOBAL.nodeBase] = L.nodeBase;
  g[GLOBAL.pageBase] = L.pageBase;
  g[GLOBAL.cpuBase] = L.cpuBase;
  g[GLOBAL.pcpBase] = L.pcpBase;
  g[GLOBAL.pcp] = cfg.pcp ? 1 : 0;
  g[GLOBAL.memBase] = L.memBase;
  g[GLOBAL.cacheBase] = L.cacheBase;
  g[GLOBAL.cacheCpuBase] = L.cacheCpuBase;
  g[GLOBAL.cacheNodeBase] = L.cacheNodeBase;
  const m = build(sab, cfg, L);
  g[m.pageBase + PAGE.flags] = PG.reserved; // pfn 0: the null page
  for (let cpu = 0; cpu < cfg.cpus; cpu++) g[cpuOff(m, cpu) + CPU.node] = cpuNode(m, cpu);
  for (let node = 0; node < cfg.nodes; node++) initZone(m, node);
  setupZonePageset(m);
  return m;
}

function build(sab: SharedArrayBuffer, cfg: MachineConfig, L: ReturnType<typeof layoutOf>): Machine {
  return {
    sab,
    cfg: Object.freeze(cfg),
    ...views(sab),
    pageShift: Math.log2(cfg.pageSize),
    pagesPerNode: L.pagesPerNode,
    totalPfns: L.totalPfns,
    nodeBase: L.nodeBase,
    pageBase: L.pageBase,
    cpuBase: L.cpuBase,
    pcpBase: L.pcpBase,
    cacheBase: L.cacheBase,
    cacheCpuBase: L.cacheCpuBase,
    cacheNodeBase: L.cacheNodeBase,
    memBase: L.memBase,
    touched: null,
  };
}

/** Build views over an existing machine; refuses anything create() did not make. */
export function attach(sab: unknown): Machine {
  if (!(sab instanceof SharedArrayBuffer)) {
    throw new SlabError('ELAYOUT', `attach: expected a SharedArrayBuffer, got ${typeof sab}`);
  }
  if (sab.byteLength < GLOBAL.STRIDE * 4) {
    throw new SlabError('ELAYOUT', `attach: buffer of ${sab.byteLength} bytes is too small for a machine header`);
  }
  const g = new Uint32Array(sab);
  if (g[GLOBAL.magic] !== MAGIC) {
    throw new SlabError('ELAYOUT', `attach: bad magic 0x${g[GLOBAL.magic].toString(16)} (expected 0x${MAGIC.toString(16)})`);
  }
  if (g[GLOBAL.version] !== LAYOUT_VERSION) {
    throw new SlabError('ELAYOUT', `attach: layout version ${g[GLOBAL.version]} (expected ${LAYOUT_VERSION})`);
  }
  let cfg: MachineConfig;
  try {
    cfg = resolveConfig({
      cpus: g[GLOBAL.cpus],
      nodes: g[GLOBAL.nodes],
      pageSize: g[GLOBAL.pageSize],
      memory: g[GLOBAL.memory],
      profile: PROFILES[g[GLOBAL.profile]] ?? (`#${g[GLOBAL.profile]}` as never),
      pcp: g[GLOBAL.pcp] === 1,
    });
  } catch (e) {
    throw new SlabError('ELAYOUT', `attach: the header holds an impossible machine: ${(e as Error).message}`);
  }
  const L = layoutOf(cfg);
  if (L.totalWords !== g[GLOBAL.totalWords] || sab.byteLength !== L.totalWords * 4) {
    throw new SlabError(
      'ELAYOUT',
      `attach: buffer size ${sab.byteLength} does not match its header (${g[GLOBAL.totalWords] * 4})`,
    );
  }
  return build(sab, cfg, L);
}

// ---- reuse: back to a saved image instead of a new buffer ----

/**
 * What a module keeps beside a buffer (cache views, SLUB's log, boot options, alias
 * names, model memory's break): saved by snapshot() with the image and put back by
 * restore(), so that a restored machine is, to every module, the machine of its image.
 */
export interface SideState<T> {
  save(sab: SharedArrayBuffer): T | undefined;
  restore(sab: SharedArrayBuffer, saved: T | undefined): void;
}

const sideStates: Array<SideState<unknown>> = [];

/** Register a module's per-buffer state with the images (call once, at module load). */
export function keepWithImage<T>(state: SideState<T>): void {
  sideStates.push(state as SideState<unknown>);
}

/**
 * The usual side state: one value per buffer, in a WeakMap that snapshot() and restore()
 * keep in step with the images. `copy` makes a value a run can change independent of
 * the saved one.
 */
export function perBufferState<T>(copy: (value: T) => T): WeakMap<SharedArrayBuffer, T> {
  const map = new WeakMap<SharedArrayBuffer, T>();
  keepWithImage<T>({
    save: (sab) => {
      const v = map.get(sab);
      return v === undefined ? undefined : copy(v);
    },
    restore: (sab, saved) => {
      if (saved === undefined) map.delete(sab);
      else map.set(sab, copy(saved));
    },
  });
  return map;
}

/** A saved state of a machine, for restore(). */
export interface MachineImage {
  /** every word of the buffer */
  readonly words: Uint32Array;
  /** the pages handed out by then (when the machine noted them: trackPages()) */
  readonly touched: Uint8Array | null;
  /** what each module kept beside the buffer then (keepWithImage()) */
  readonly side: readonly unknown[];
}

/**
 * From now on the machine notes every page it hands out, so that restore() can rewrite
 * only those pages of simulated memory. Call it on a fresh machine.
 */
export function trackPages(m: Machine): void {
  m.touched = new Uint8Array(m.totalPfns);
}

/** The machine's state now, with what the modules keep beside it, to go back to with restore(). */
export function snapshot(m: Machine): MachineImage {
  return { words: m.u32.slice(), touched: m.touched?.slice() ?? null, side: sideStates.map((s) => s.save(m.sab)) };
}

/**
 * Put the machine back into the state of `image` (its snapshot()), and every module's
 * state beside it. Nothing may run on it meanwhile.
 *
 * Everything before simulated memory is copied; of simulated memory, when the machine
 * tracks its pages, only the pages handed out since trackPages() (a page nobody was
 * given is written by nobody: SLUB, the pools and model memory all write pages they
 * took from the page allocator).
 */
export function restore(m: Machine, image: MachineImage): void {
  const u = m.u32;
  const words = image.words;
  const touched = m.touched;
  if (touched === null || image.touched === null) {
    u.set(words);
  } else {
    restoreTables(m, words);
    const perPage = m.cfg.pageSize >> 2;
    for (let pfn = 0; pfn < touched.length; pfn++) {
      if (touched[pfn] === 0) continue;
      let end = pfn + 1;
      while (end < touched.length && touched[end] !== 0) end++;
      const from = m.memBase + pfn * perPage;
      u.set(words.subarray(from, m.memBase + end * perPage), from);
      pfn = end;
    }
    touched.set(image.touched);
  }
  sideStates.forEach((s, i) => s.restore(m.sab, image.side[i]));
}

/**
 * Everything before simulated memory, but the cache tables of cache ids neither the
 * machine nor the image has used (ids are never reused, and a table nobody created is
 * written by nobody): most machines use a few of MAX_CACHES.
 */
function restoreTables(m: Machine, words: Uint32Array): void {
  const u = m.u32;
  const used = Math.max(u[GLOBAL.nrCaches], words[GLOBAL.nrCaches]);
  // In layout order (layoutOf()): each cache table's used part, then the next table.
  u.set(words.subarray(0, cacheOff(m, used)));
  u.set(words.subarray(cacheOff(m, MAX_CACHES), cacheCpuOff(m, used, 0)), cacheOff(m, MAX_CACHES));
  u.set(words.subarray(cacheCpuOff(m, MAX_CACHES, 0), cacheNodeOff(m, used, 0)), cacheCpuOff(m, MAX_CACHES, 0));
  u.set(words.subarray(cacheNodeOff(m, MAX_CACHES, 0), m.memBase), cacheNodeOff(m, MAX_CACHES, 0));
}

// ---- index -> offset helpers: the only arithmetic on offsets outside structs.ts ----

export const nodeOff = (m: Machine, node: number): number => m.nodeBase + node * NODE.STRIDE;
export const pageOff = (m: Machine, pfn: number): number => m.pageBase + pfn * PAGE.STRIDE;
export const cpuOff = (m: Machine, cpu: number): number => m.cpuBase + cpu * CPU.STRIDE;
/** struct per_cpu_pages of `cpu` for the zone of `node`. */
export const pcpOff = (m: Machine, node: number, cpu: number): number => m.pcpBase + (node * m.cfg.cpus + cpu) * PCP.STRIDE;
export const cacheOff = (m: Machine, id: number): number => m.cacheBase + id * KMEM_CACHE.STRIDE;
/** kmem_cache_cpu of cache `id` for `cpu`: per cache, the CPUs' regions are contiguous. */
export const cacheCpuOff = (m: Machine, id: number, cpu: number): number =>
  m.cacheCpuBase + (id * m.cfg.cpus + cpu) * CACHE_CPU.STRIDE;
export const cacheNodeOff = (m: Machine, id: number, node: number): number =>
  m.cacheNodeBase + (id * m.cfg.nodes + node) * CACHE_NODE.STRIDE;
/** CPUs are split evenly: CPU i is on node floor(i * nodes / cpus). */
export const cpuNode = (m: Machine, cpu: number): number => Math.floor((cpu * m.cfg.nodes) / m.cfg.cpus);
/** Node k owns pfns [1 + k*pagesPerNode, 1 + (k+1)*pagesPerNode). */
export const nodeStartPfn = (m: Machine, node: number): number => 1 + node * m.pagesPerNode;
export const pfnNode = (m: Machine, pfn: number): number => Math.floor((pfn - 1) / m.pagesPerNode);
/** Simulated physical address of a page; pfn 0 maps to address 0 (NULL). */
export const pfnToAddr = (m: Machine, pfn: number): number => pfn * m.cfg.pageSize;
export const addrToPfn = (m: Machine, addr: number): number => addr >>> m.pageShift;
/** Word index in the buffer of the 32-bit word at a 4-aligned simulated address. */
export const addrWord = (m: Machine, addr: number): number => m.memBase + (addr >>> 2);
/** Byte index in the buffer of a simulated address. */
export const addrByte = (m: Machine, addr: number): number => m.memBase * 4 + addr;
/** Is `addr` inside simulated memory and not in the null page? */
export const validAddr = (m: Machine, addr: number): boolean =>
  Number.isInteger(addr) && addr >= m.cfg.pageSize && addr < m.totalPfns * m.cfg.pageSize;

// ---- what a word is: for traces and pictures ----

/** Where word `w` of the buffer lives, with the indices of its region and its field's name. */
export interface WordPlace {
  region: 'header' | 'node' | 'page' | 'cpu' | 'pcp' | 'cache' | 'cache_cpu' | 'cache_node' | 'memory' | 'outside';
  /** node (node, pcp, cache_node), pfn (page, memory), cpu (cpu, pcp, cache_cpu), cache id (cache, cache_cpu, cache_node) */
  node?: number;
  pfn?: number;
  cpu?: number;
  cache?: number;
  /** simulated address (memory) */
  addr?: number;
  /** the struct field (null in padding or in memory) */
  field: string | null;
  /** one short line: `page 7 counters`, `cache 0 cpu 1 freelist`, `zone 0 nrFree[3]`, `0x1080` */
  label: string;
}

/** What word `w` of the buffer is: the region, its indices and the field, from the struct tables. */
export function wordPlace(m: Machine, w: number): WordPlace {
  const within = (base: number, stride: number, count: number): [number, number] | null => {
    const rel = w - base;
    return rel >= 0 && rel < stride * count ? [Math.floor(rel / stride), rel % stride] : null;
  };
  const named = (f: string | null): string => (f === null ? 'padding' : f);
  const fieldOf = (struct: { readonly NAME: string; readonly STRIDE: number }, off: number): string | null => {
    const f = fieldAt(struct, off);
    return f === null ? null : (HALF_NAMES[`${struct.NAME}.${f}`] ?? f);
  };
  let at: [number, number] | null;
  if (w >= m.memBase && w < m.memBase + (m.totalPfns * m.cfg.pageSize) / 4) {
    const addr = (w - m.memBase) * 4;
    return { region: 'memory', pfn: addrToPfn(m, addr), addr, field: null, label: `0x${addr.toString(16)}` };
  }
  if (w >= 0 && w < GLOBAL.STRIDE)
    return { region: 'header', field: fieldOf(GLOBAL, w), label: `header ${named(fieldOf(GLOBAL, w))}` };
  if ((at = within(m.nodeBase, NODE.STRIDE, m.cfg.nodes))) {
    const field = fieldOf(NODE, at[1]);
    return { region: 'node', node: at[0], field, label: `zone ${at[0]} ${named(field)}` };
  }
  if ((at = within(m.pageBase, PAGE.STRIDE, m.totalPfns))) {
    const field = fieldOf(PAGE, at[1]);
    return { region: 'page', pfn: at[0], field, label: `page ${at[0]} ${named(field)}` };
  }
  if ((at = within(m.cpuBase, CPU.STRIDE, m.cfg.cpus))) {
    const field = fieldOf(CPU, at[1]);
    return { region: 'cpu', cpu: at[0], field, label: `cpu ${at[0]} ${named(field)}` };
  }
  if ((at = within(m.pcpBase, PCP.STRIDE, m.cfg.nodes * m.cfg.cpus))) {
    const [node, cpu] = [Math.floor(at[0] / m.cfg.cpus), at[0] % m.cfg.cpus];
    const field = fieldOf(PCP, at[1]);
    return { region: 'pcp', node, cpu, field, label: `pageset node ${node} cpu ${cpu} ${named(field)}` };
  }
  if ((at = within(m.cacheBase, KMEM_CACHE.STRIDE, MAX_CACHES))) {
    const field = fieldOf(KMEM_CACHE, at[1]);
    return { region: 'cache', cache: at[0], field, label: `cache ${at[0]} ${named(field)}` };
  }
  if ((at = within(m.cacheCpuBase, CACHE_CPU.STRIDE, MAX_CACHES * m.cfg.cpus))) {
    const [cache, cpu] = [Math.floor(at[0] / m.cfg.cpus), at[0] % m.cfg.cpus];
    const field = fieldOf(CACHE_CPU, at[1]);
    return { region: 'cache_cpu', cache, cpu, field, label: `cache ${cache} cpu ${cpu} ${named(field)}` };
  }
  if ((at = within(m.cacheNodeBase, CACHE_NODE.STRIDE, MAX_CACHES * m.cfg.nodes))) {
    const [cache, node] = [Math.floor(at[0] / m.cfg.nodes), at[0] % m.cfg.nodes];
    const field = fieldOf(CACHE_NODE, at[1]);
    return { region: 'cache_node', cache, node, field, label: `cache ${cache} node ${node} ${named(field)}` };
  }
  return { region: 'outside', field: null, label: `word ${w}` };
}

// ---- worker identity and start ----

/** A worker's CPU id, unique per run: taken from an atomic counter in the buffer. */
export const takeCpuId = (m: Machine): number => Atomics.add(m.u32, GLOBAL.nextCpuId, 1);

/**
 * Start barrier: returns once all `cpus` CPUs have arrived, so that every CPU starts
 * its loop at the same time. Throws after `timeoutMs` (a CPU that never started).
 */
export function arriveAndWait(m: Machine, cpus: number, timeoutMs = 60_000): void {
  const arrived = Atomics.add(m.i32, GLOBAL.started, 1) + 1;
  if (arrived === cpus) {
    Atomics.notify(m.i32, GLOBAL.started);
    return;
  }
  const deadline = Date.now() + timeoutMs;
  for (let seen = arrived; seen < cpus; seen = Atomics.load(m.i32, GLOBAL.started)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`start barrier: only ${seen} of ${cpus} CPUs started within ${timeoutMs} ms`);
    Atomics.wait(m.i32, GLOBAL.started, seen, left);
  }
}

/** Every CPU has passed the start barrier. */
export const allStarted = (m: Machine): boolean => Atomics.load(m.u32, GLOBAL.started) >= m.cfg.cpus;

/** A timed run is over: CPUs finish the operation in hand, free what they hold, and stop. */
export const stopRequested = (m: Machine): boolean => m.u32[GLOBAL.stop] !== 0;

export function requestStop(m: Machine): void {
  Atomics.store(m.u32, GLOBAL.stop, 1);
}

/** Pause (true) or resume every free-running CPU of the machine at its next control point. */
export function setPaused(m: Machine, paused: boolean): void {
  Atomics.store(m.i32, GLOBAL.pause, paused ? 1 : 0);
  if (!paused) Atomics.notify(m.i32, GLOBAL.pause);
}

export const pauseRequested = (m: Machine): boolean => m.u32[GLOBAL.pause] !== 0;

/** Block this thread while the machine is paused. Never on a thread that runs the scheduler or a page. */
export function waitWhilePaused(m: Machine): void {
  while (Atomics.load(m.i32, GLOBAL.pause) !== 0) Atomics.wait(m.i32, GLOBAL.pause, 1);
}

/** The interrupt rate a controller set for every CPU (0..1), or null when none did. */
export function controlledIrqRate(m: Machine): number | null {
  const v = m.u32[GLOBAL.irqRate];
  return v === 0 ? null : (v - 1) / 1e6;
}

export function setControlledIrqRate(m: Machine, rate: number): void {
  Atomics.store(m.u32, GLOBAL.irqRate, 1 + Math.round(Math.min(1, Math.max(0, rate)) * 1e6));
}

/** Operations published so far by a CPU (racy progress read). */
export const cpuOpsDone = (m: Machine, cpu: number): number => m.u32[cpuOff(m, cpu) + CPU.opsDone];

/** Word offsets of a CPU's online flag and pending-work count. */
export const cpuOnlineWord = (m: Machine, cpu: number): number => cpuOff(m, cpu) + CPU.online;
export const cpuWorkWord = (m: Machine, cpu: number): number => cpuOff(m, cpu) + CPU.workPending;

/** Publish a CPU's progress with a plain store (only CPU i writes CPU[i]). */
export function publishOps(m: Machine, cpu: number, ops: number): void {
  m.u32[cpuOff(m, cpu) + CPU.opsDone] = ops;
}
