// Read-only walks over one cache's slabs, for validate, destroy and reports. Call them
// only while no CPU runs (after a run, or from the scheduler between steps).
import { addrWord, type Machine, pageOff, pfnNode } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, CPU_FREELIST, NIL, PAGE, PG, SLAB_COUNTERS, SLAB_FREELIST } from '../../shm/structs.js';
import { frozenOf, inuseOf, objectsOf } from '../../shm/word.js';
import { cpuSlabOff, type KmemCache } from './kmem_cache.js';
import { freelistPtr, objectIndex } from './objects.js';

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

export function slabRecord(s: KmemCache, pfn: number, place: SlabPlace): SlabRecord {
  const m = s.m;
  const pg = pageOff(m, pfn);
  const counters = m.u32[pg + SLAB_COUNTERS];
  const objects = objectsOf(counters);
  const problems: string[] = [];
  const seen = new Uint8Array(objects);
  const slabFree = walkChain(s, pfn, objects, m.u32[pg + SLAB_FREELIST], seen, 'slab freelist', problems);
  let cpuFree = 0;
  if (place.kind === 'cpu') {
    const c = cpuSlabOff(s, place.cpu);
    cpuFree = walkChain(s, pfn, objects, m.u32[c + CPU_FREELIST], seen, `CPU${place.cpu} freelist`, problems);
  }
  const freeIdx: number[] = [];
  for (let i = 0; i < objects; i++) if (seen[i]) freeIdx.push(i);
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
    problems,
  };
}

/** Every slab of `s` with its place and counts; conflicting places go to `conflicts`. */
export function slabRecords(s: KmemCache, conflicts: string[] = []): SlabRecord[] {
  const places = slabPlaces(s, conflicts);
  return slabPfns(s).map((pfn) => slabRecord(s, pfn, places.get(pfn) ?? { kind: 'none' }));
}

/** Objects still allocated to users: inuse less the cpu freelist of a cpu slab. */
export const liveObjects = (r: SlabRecord): number => r.objects - r.freeIdx.length;

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
