// Read-only walks over one cache's slabs, for validate, destroy and reports. Call them
// only while no CPU runs (after a run, or from the scheduler between steps).
import { addrWord, cacheOff, type Machine, pageOff, pfnNode } from '../../shm/machine.js';
import {
  CACHE_CPU,
  CACHE_NODE,
  CACHE_STATE,
  CPU_FREELIST,
  GLOBAL,
  KMEM_CACHE,
  NIL,
  PAGE,
  PG,
  SHEAF,
  SLAB_COUNTERS,
  SLAB_FREELIST,
} from '../../shm/structs.js';
import { frozenOf, inuseOf, MAX_OBJS_PER_PAGE, objectsOf } from '../../shm/word.js';
import { cacheById, cpuSlabOff, type KmemCache } from './kmem_cache.js';
import { freelistPtr, objectAt, objectIndex } from './objects.js';

/** Where a slab is, by the lists that reach it. */
export type SlabPlace =
  | { kind: 'cpu'; cpu: number }
  | { kind: 'cpu_partial'; cpu: number }
  | { kind: 'node_partial' }
  | { kind: 'full_list' }
  | { kind: 'none' };

export interface SlabRecord {
  pfn: number;
  node: number;
  order: number;
  objects: number;
  inuse: number;
  frozen: boolean;
  /** objects on slab->freelist (chain walked) */
  slabFree: number;
  /** objects on the owning CPU's freelist, for a cpu slab */
  cpuFree: number;
  place: SlabPlace;
  /** object indices that are free (either freelist), sorted */
  freeIdx: number[];
  /** object indices held in a sheaf (allocated from the slab's point of view, free to users), sorted */
  cachedIdx: number[];
  /** 7.0 SL_partial */
  slPartial: boolean;
  /** problems met while walking: corrupt or cyclic chains */
  problems: string[];
}

/** Every slab page of cache `s`, found by scanning struct pages (the simulator can). */
export function slabPfns(s: KmemCache): number[] {
  const m = s.m;
  const out: number[] = [];
  for (let pfn = 1; pfn < m.totalPfns; pfn++) {
    const p = pageOff(m, pfn);
    if (m.u32[p + PAGE.flags] & PG.slab && m.u32[p + PAGE.slabCache] === s.id + 1) out.push(pfn);
  }
  return out;
}

/**
 * pfn -> place, from the cpu slabs, cpu partial chains and node lists. A slab reached
 * from two places is reported in `conflicts` (it can be in only one).
 */
export function slabPlaces(s: KmemCache, conflicts: string[] = []): Map<number, SlabPlace> {
  const m = s.m;
  const found = new Map<number, SlabPlace>();
  const describe = (p: SlabPlace): string => ('cpu' in p ? `${p.kind} of CPU${p.cpu}` : p.kind);
  const places = {
    set(pfn: number, p: SlabPlace): void {
      const before = found.get(pfn);
      if (before) conflicts.push(`slab ${pfn} is both ${describe(before)} and ${describe(p)}`);
      found.set(pfn, p);
    },
  };
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    const c = cpuSlabOff(s, cpu);
    const page = m.u32[c + CACHE_CPU.page];
    if (page !== NIL) places.set(page, { kind: 'cpu', cpu });
    let guard = 0;
    for (let pfn = m.u32[c + CACHE_CPU.partial]; pfn !== NIL && guard++ < m.totalPfns; pfn = m.u32[pageOff(m, pfn) + PAGE.next]) {
      places.set(pfn, { kind: 'cpu_partial', cpu });
    }
  }
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.partialHead])) places.set(pfn, { kind: 'node_partial' });
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.fullHead])) places.set(pfn, { kind: 'full_list' });
  }
  return found;
}

/** The pfns of a slab_list chain from `head` (bounded against cycles). */
export function listPfns(m: Machine, head: number): number[] {
  const out: number[] = [];
  for (let pfn = head; pfn !== NIL && out.length <= m.totalPfns; pfn = m.u32[pageOff(m, pfn) + PAGE.lruNext]) out.push(pfn);
  return out;
}

/** Walk a freelist chain within slab `pfn`; at most `objects` + 1 steps. */
function walkChain(
  s: KmemCache,
  pfn: number,
  objects: number,
  head: number,
  seen: Uint8Array,
  what: string,
  problems: string[],
  out?: number[],
): number {
  const m = s.m;
  let count = 0;
  for (let p = head; p !== 0;) {
    const idx = objectIndex(s, pfn, objects, p);
    if (idx < 0) {
      problems.push(`${what}: pointer 0x${p.toString(16)} is not an object of slab ${pfn}`);
      break;
    }
    if (seen[idx]) {
      problems.push(`${what}: object ${idx} appears twice (cycle or double free)`);
      break;
    }
    seen[idx] = 1;
    out?.push(idx);
    count++;
    const at = p + s.offset;
    p = freelistPtr(s, m.u32[addrWord(m, at)], at);
  }
  return count;
}

/** The object indices on a freelist chain of slab `pfn`, in chain order (stops at a corrupt or cyclic link). */
export function freelistIndices(s: KmemCache, pfn: number, head: number): number[] {
  const objects = objectsOf(s.m.u32[pageOff(s.m, pfn) + SLAB_COUNTERS]);
  const out: number[] = [];
  walkChain(s, pfn, objects, head, new Uint8Array(objects), '', [], out);
  return out;
}

// Which objects a walk has met: one array for every walk (they never nest), cleared per slab.
const seenObjects = new Uint8Array(MAX_OBJS_PER_PAGE + 1);
const seenScratch = (objects: number): Uint8Array => seenObjects.fill(0, 0, objects);

export function slabRecord(
  s: KmemCache,
  pfn: number,
  place: SlabPlace,
  cached: ReadonlySet<number> = sheafObjects(sheafRecords(s)),
): SlabRecord {
  const m = s.m;
  const pg = pageOff(m, pfn);
  const counters = m.u32[pg + SLAB_COUNTERS];
  const objects = objectsOf(counters);
  const problems: string[] = [];
  const seen = seenScratch(objects);
  const slabFree = walkChain(s, pfn, objects, m.u32[pg + SLAB_FREELIST], seen, 'slab freelist', problems);
  let cpuFree = 0;
  if (place.kind === 'cpu') {
    const c = cpuSlabOff(s, place.cpu);
    cpuFree = walkChain(s, pfn, objects, m.u32[c + CPU_FREELIST], seen, `CPU${place.cpu} freelist`, problems);
  }
  const freeIdx: number[] = [];
  const cachedIdx: number[] = [];
  for (let i = 0; i < objects; i++) if (seen[i]) freeIdx.push(i);
  if (cached.size > 0) for (let i = 0; i < objects; i++) if (cached.has(objectAt(s, pfn, i))) cachedIdx.push(i);
  return {
    pfn,
    node: pfnNode(m, pfn),
    order: m.u32[pg + PAGE.private],
    objects,
    inuse: inuseOf(counters),
    frozen: frozenOf(counters) === 1,
    slabFree,
    cpuFree,
    place,
    freeIdx,
    cachedIdx,
    slPartial: (m.u32[pg + PAGE.flags] & PG.partial) !== 0,
    problems,
  };
}

/**
 * Every slab of `s` with its place and counts; conflicting places go to `conflicts`.
 * `sheaves`: sheafRecords(s), when the caller has them already.
 */
export function slabRecords(s: KmemCache, conflicts: string[] = [], sheaves = sheafRecords(s)): SlabRecord[] {
  const places = slabPlaces(s, conflicts);
  const cached = sheafObjects(sheaves);
  return slabPfns(s).map((pfn) => slabRecord(s, pfn, places.get(pfn) ?? { kind: 'none' }, cached));
}

/** Objects still allocated to users: neither on a freelist nor held in a sheaf. */
export const liveObjects = (r: SlabRecord): number => r.objects - r.freeIdx.length - r.cachedIdx.length;

// ---- sheaves ----

export type SheafPlace = 'main' | 'spare' | 'barn_full' | 'barn_empty';

export interface SheafRecord {
  /** the sheaf's address (a kmalloc object) */
  addr: number;
  place: SheafPlace;
  /** the CPU of a main or spare sheaf, the node of a barn's */
  cpu?: number;
  node?: number;
  /** sheaf->cache as stored: the owning cache's id (-1 for none) */
  cache: number;
  size: number;
  objects: number[];
}

/**
 * Every sheaf of `s` the kernel's structures reach: each CPU's main and spare, each
 * node's barn lists (bounded against cycles). A prefilled sheaf a user holds is not
 * among them.
 */
export function sheafRecords(s: KmemCache): SheafRecord[] {
  const m = s.m;
  const out: SheafRecord[] = [];
  forEachSheaf(s, (addr, place, where) => {
    const w = addrWord(m, addr);
    const size = m.u32[w + SHEAF.size];
    const objects: number[] = [];
    const shown = Math.min(size, 4096);
    for (let i = 0; i < shown; i++) objects.push(m.u32[w + SHEAF.objects + i * SHEAF.objectStride]);
    out.push({ addr, place, ...where, cache: m.u32[w + SHEAF.cache] - 1, size, objects });
  });
  return out;
}

/** Every sheaf of `s` (the CPUs' main and spare, then each node's barn lists), by its address. */
function forEachSheaf(
  s: KmemCache,
  record: (addr: number, place: SheafPlace, where: { cpu?: number; node?: number }) => void,
): void {
  const m = s.m;
  if (m.u32[s.base + KMEM_CACHE.sheafCapacity] === 0) return;
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    const c = cpuSlabOff(s, cpu);
    if (m.u32[c + CACHE_CPU.main] !== 0) record(m.u32[c + CACHE_CPU.main], 'main', { cpu });
    if (m.u32[c + CACHE_CPU.spare] !== 0) record(m.u32[c + CACHE_CPU.spare], 'spare', { cpu });
  }
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    forEachBarnSheaf(m, m.u32[n + CACHE_NODE.fullSheaves], (addr) => record(addr, 'barn_full', { node }));
    forEachBarnSheaf(m, m.u32[n + CACHE_NODE.emptySheaves], (addr) => record(addr, 'barn_empty', { node }));
  }
}

/** The sheaves of one barn list from `head` (bounded against cycles). */
function forEachBarnSheaf(m: Machine, head: number, record: (addr: number) => void): void {
  let guard = 0;
  for (let addr = head; addr !== 0 && guard++ < m.totalPfns; addr = m.u32[addrWord(m, addr) + SHEAF.barnNext]) record(addr);
}

/** The objects held in `sheaves` (of one cache: sheafRecords()). */
export function sheafObjects(sheaves: readonly SheafRecord[]): Set<number> {
  const out = new Set<number>();
  for (const r of sheaves) for (const o of r.objects) out.add(o);
  return out;
}

/** The addresses of every live cache's sheaves: kmalloc objects the allocator itself holds. */
export function sheafStorage(m: Machine): Set<number> {
  const out = new Set<number>();
  for (let id = 0; id < m.u32[GLOBAL.nrCaches]; id++) {
    if (m.u32[cacheOff(m, id) + KMEM_CACHE.state] !== CACHE_STATE.live) continue;
    forEachSheaf(cacheById(m, id), (addr) => out.add(addr));
  }
  return out;
}

/**
 * The cheap check between scheduler steps: inuse <= objects <= what fits, for the slabs whose counters are among `written` (the
 * words one scheduled step changed): what that step can have broken. Counters written
 * plainly (a new slab, still private) are left to validateCache() at the end.
 */
export function countsInBoundsAt(s: KmemCache, written: readonly number[]): string | null {
  const m = s.m;
  for (const w of written) {
    const rel = w - m.pageBase;
    if (rel < 0 || rel % PAGE.STRIDE !== SLAB_COUNTERS) continue;
    const pfn = rel / PAGE.STRIDE;
    if (pfn >= m.totalPfns) continue;
    const v = slabCountsInBounds(s, pfn);
    if (v) return v;
  }
  return null;
}

function slabCountsInBounds(s: KmemCache, pfn: number): string | null {
  const m = s.m;
  const p = pageOff(m, pfn);
  if (!(m.u32[p + PAGE.flags] & PG.slab) || m.u32[p + PAGE.slabCache] !== s.id + 1) return null;
  const c = m.u32[p + SLAB_COUNTERS];
  const max = (m.cfg.pageSize << m.u32[p + PAGE.private]) / s.size;
  if (inuseOf(c) > objectsOf(c) || objectsOf(c) > max) {
    return `${s.name}: slab ${pfn} has inuse ${inuseOf(c)} of ${objectsOf(c)} objects (at most ${Math.floor(max)} fit)`;
  }
  return null;
}
