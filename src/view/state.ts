// What the viewer draws, read straight from a machine's buffer: per cache the
// kmem_cache_cpu of each CPU, the node lists and every slab with its free objects, and
// for a cache with sheaves (6.18, 7.0) each CPU's main and spare sheaf and each node's
// barn; the buddy free areas per node. Read-only. On a machine whose CPUs are running (live mode)
// the reads are racy, as a /proc reader's are: every walk is bounded and a torn chain
// only ends early.
import { liveCacheIds } from '../mm/slub/cache.js';
import { cacheById, cpuSlabOff, type KmemCache, minPartial } from '../mm/slub/kmem_cache.js';
import { objectAt } from '../mm/slub/objects.js';
import {
  freelistIndices,
  listPfns,
  type SheafPlace,
  sheafObjects,
  sheafRecords,
  slabPfns,
  slabPlaces,
  type SlabPlace,
} from '../mm/slub/walk.js';
import { nrFree } from '../report/buddyinfo.js';
import { type Machine, pageOff, pfnNode } from '../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, CPU_FREELIST, CPU_TID, NIL, PAGE, SLAB_COUNTERS, SLAB_FREELIST } from '../shm/structs.js';
import { frozenOf, inuseOf, objectsOf } from '../shm/word.js';

export interface CpuView {
  cpu: number;
  tid: number;
  /** c->freelist as object indices of the cpu slab, in chain order */
  freelist: number[];
  /** c->page / c->slab, or 0 */
  cpuSlab: number;
  /** the cpu-partial chain (c->partial, through page->next) */
  partial: number[];
  /** the chain head's page->pages (5.4) / slab->slabs (6.6); 0 without a chain */
  partialCount: number;
  /** the chain head's page->pobjects (5.4), else 0 */
  partialObjects: number;
}

export interface NodeView {
  node: number;
  nrPartial: number;
  minPartial: number;
  partial: number[];
  /** n->full (SLAB_STORE_USER caches only) */
  full: number[];
  /** the barn's nr_full and nr_empty (0 for a cache without sheaves) */
  barnFull: number;
  barnEmpty: number;
}

/** One sheaf the cache's structures reach (walk.ts sheafRecords()). */
export interface SheafView {
  place: SheafPlace;
  /** the CPU of a main or spare sheaf, the node of a barn's */
  cpu?: number;
  node?: number;
  /** objects held, of the cache's sheaf_capacity */
  size: number;
}

export interface SlabView {
  pfn: number;
  node: number;
  objects: number;
  inuse: number;
  frozen: boolean;
  place: SlabPlace;
  /** object indices on slab->freelist, and on the owning CPU's freelist (cpu slab) */
  slabFree: number[];
  cpuFree: number[];
  /** object indices held in a sheaf: allocated as the slab counts, free to users */
  cached: number[];
}

export interface CacheView {
  id: number;
  name: string;
  /** s->size: the slot stride, and the simulated address of pfn 0's first slot is pfn * pageSize + redLeftPad */
  size: number;
  redLeftPad: number;
  cpus: CpuView[];
  nodes: NodeView[];
  /** every slab of the cache, by pfn */
  slabs: SlabView[];
  /** s->sheaf_capacity (0: no sheaves) and the sheaves, CPUs' first, then the barns' */
  sheafCapacity: number;
  sheaves: SheafView[];
}

export interface MachineView {
  caches: CacheView[];
  /** free_area[k].nr_free per node */
  buddy: number[][];
}

/** Bound on every chain walked, against a torn chain on a running machine. */
const chainBound = (m: Machine): number => m.totalPfns;

function cpuView(s: KmemCache, cpu: number): CpuView {
  const m = s.m;
  const c = cpuSlabOff(s, cpu);
  const cpuSlab = m.u32[c + CACHE_CPU.page];
  const partial: number[] = [];
  for (
    let pfn = m.u32[c + CACHE_CPU.partial];
    pfn !== NIL && partial.length < chainBound(m);
    pfn = m.u32[pageOff(m, pfn) + PAGE.next]
  )
    partial.push(pfn);
  const head = partial.length ? pageOff(m, partial[0]) : -1;
  return {
    cpu,
    tid: m.u32[c + CPU_TID],
    freelist: cpuSlab === NIL ? [] : freelistIndices(s, cpuSlab, m.u32[c + CPU_FREELIST]),
    cpuSlab,
    partial,
    partialCount: head < 0 ? 0 : m.u32[head + PAGE.pages],
    partialObjects: head < 0 || s.v66 ? 0 : m.u32[head + PAGE.pobjects],
  };
}

function slabView(s: KmemCache, pfn: number, place: SlabPlace, cpus: readonly CpuView[], cached: ReadonlySet<number>): SlabView {
  const m = s.m;
  const p = pageOff(m, pfn);
  const counters = m.u32[p + SLAB_COUNTERS];
  const objects = objectsOf(counters);
  const inSheaves: number[] = [];
  if (cached.size) for (let i = 0; i < objects; i++) if (cached.has(objectAt(s, pfn, i))) inSheaves.push(i);
  return {
    pfn,
    node: pfnNode(m, pfn),
    objects,
    inuse: inuseOf(counters),
    frozen: frozenOf(counters) === 1,
    place,
    slabFree: freelistIndices(s, pfn, m.u32[p + SLAB_FREELIST]),
    cpuFree: place.kind === 'cpu' ? cpus[place.cpu].freelist : [],
    cached: inSheaves,
  };
}

export function cacheView(s: KmemCache): CacheView {
  const m = s.m;
  const cpus = Array.from({ length: m.cfg.cpus }, (_, cpu) => cpuView(s, cpu));
  const nodes = Array.from({ length: m.cfg.nodes }, (_, node): NodeView => {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    return {
      node,
      nrPartial: m.u32[n + CACHE_NODE.nrPartial],
      minPartial: minPartial(s),
      partial: listPfns(m, m.u32[n + CACHE_NODE.partialHead]),
      full: listPfns(m, m.u32[n + CACHE_NODE.fullHead]),
      barnFull: s.sheafCapacity ? m.u32[n + CACHE_NODE.nrFull] : 0,
      barnEmpty: s.sheafCapacity ? m.u32[n + CACHE_NODE.nrEmpty] : 0,
    };
  });
  const places = slabPlaces(s);
  const sheaves = sheafRecords(s);
  const cached = sheafObjects(sheaves);
  return {
    id: s.id,
    name: s.name,
    size: s.size,
    redLeftPad: s.redLeftPad,
    cpus,
    nodes,
    slabs: slabPfns(s).map((pfn) => slabView(s, pfn, places.get(pfn) ?? { kind: 'none' }, cpus, cached)),
    sheafCapacity: s.sheafCapacity,
    sheaves: sheaves.map(({ place, cpu, node, size }) => ({ place, cpu, node, size })),
  };
}

export function machineView(m: Machine): MachineView {
  return {
    caches: liveCacheIds(m).map((id) => cacheView(cacheById(m, id))),
    buddy: Array.from({ length: m.cfg.nodes }, (_, node) => nrFree(m, node)),
  };
}
