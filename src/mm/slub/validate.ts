// validate(cache): every slab checked against the state table of structs.ts, every
// node's counters against what the slabs say. slub.c: validate_slab_cache(),
// validate_slab(), check_slab(), on_freelist() — as a read-only audit. For a debug cache
// also the red zones, poison and padding of every object, and any error SLUB debugging
// reported while the cache was used. (The kernel's validation itself, which repairs
// what it finds and counts as KUnit does, is validateSlabCache() in debug_validate.ts.)
import { pageOff, validAddr } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, PAGE, PG, SLAB_COUNTERS, SLAB_FREELIST } from '../../shm/structs.js';
import { MAX_OBJS_PER_PAGE, objectsOf } from '../../shm/word.js';
import { SLAB_FLAGS } from './geometry.js';
import { cacheById, cpuSlabOff, type KmemCache } from './kmem_cache.js';
import { checkObject, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE, slabPadCheck } from './debug.js';
import { objectAt, objectIndex, virtToHeadPfn } from './objects.js';
import { auditReporter, slabErrorCount } from './report.js';
import { freelistIndices, listPfns, type SheafRecord, sheafRecords, type SlabRecord, slabRecords } from './walk.js';

/** What validateCache() found. */
export interface ValidateResult {
  /** the problems found (0: the cache is consistent) */
  errors: number;
  /** one line per problem */
  messages: string[];
}

/**
 * Check every slab of a cache against the counting invariants written beside `PAGE` in
 * src/shm/structs.ts (freelists, inuse, list membership, per-node counts); read-only.
 * Call it while no CPU runs.
 */
export function validateCache(s: KmemCache): ValidateResult {
  const { errors, messages } = auditCache(s);
  return { errors, messages };
}

/** validateCache() and the slab records it checked, for callers that look at them too. */
export function auditCache(s: KmemCache): ValidateResult & { records: SlabRecord[] } {
  const m = s.m;
  const conflicts: string[] = [];
  const sheaves = sheafRecords(s);
  const records = slabRecords(s, conflicts, sheaves);
  const messages = conflicts.map((c) => `${s.name}: ${c}`);
  for (const r of records) checkSlab(s, r, messages);
  if (s.debug) for (const r of records) if (r.problems.length === 0) auditObjects(s, r, messages);
  if (s.sheafCapacity !== 0) checkSheaves(s, records, sheaves, messages);
  const reported = slabErrorCount(s);
  if (reported > 0) messages.push(`${s.name}: SLUB debugging reported ${reported} errors (see slabReports())`);
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    const mine = records.filter((r) => r.node === node);
    const partial = listPfns(m, m.u32[n + CACHE_NODE.partialHead]);
    if (partial.length !== m.u32[n + CACHE_NODE.nrPartial]) {
      messages.push(`SLUB ${s.name}: ${partial.length} partial slabs counted but counter=${m.u32[n + CACHE_NODE.nrPartial]}`);
    }
    for (const pfn of partial) {
      if (!mine.some((r) => r.pfn === pfn))
        messages.push(`${s.name}: node ${node} partial list holds pfn ${pfn}, not a slab of this node`);
    }
    if (mine.length !== m.u32[n + CACHE_NODE.nrSlabs]) {
      messages.push(`${s.name}: node ${node} nr_slabs == ${m.u32[n + CACHE_NODE.nrSlabs]} but ${mine.length} slabs exist`);
    }
    const total = mine.reduce((sum, r) => sum + r.objects, 0);
    if (total !== m.u32[n + CACHE_NODE.totalObjects]) {
      messages.push(`${s.name}: node ${node} total_objects == ${m.u32[n + CACHE_NODE.totalObjects]} but slabs hold ${total}`);
    }
  }
  return { errors: messages.length, messages, records };
}

/**
 * A debug cache's bytes, read only: the slab's tail padding, then check_object() on each
 * object, against SLUB_RED_INACTIVE if free and SLUB_RED_ACTIVE if allocated, stopping
 * at the first bad one (as validate_slab() does, but on every slab, without repairing
 * and without counting: validateSlabCache() is the kernel's validation).
 */
function auditObjects(s: KmemCache, r: SlabRecord, out: string[]): void {
  const reporter = auditReporter(out);
  slabPadCheck(reporter, s, r.pfn);
  const free = new Set(r.freeIdx);
  for (let i = 0; i < r.objects; i++) {
    const val = free.has(i) ? SLUB_RED_INACTIVE : SLUB_RED_ACTIVE;
    if (!checkObject(reporter, s, r.pfn, objectAt(s, r.pfn, i), val)) return;
  }
}

function checkSlab(s: KmemCache, r: SlabRecord, out: string[]): void {
  const at = `${s.name}: slab ${r.pfn}`;
  const max = Math.min(MAX_OBJS_PER_PAGE, Math.floor((s.m.cfg.pageSize << r.order) / s.size));
  if (r.objects > max) out.push(`${at}: objects ${r.objects} > max ${max} for order ${r.order}`);
  if (r.inuse > r.objects) out.push(`${at}: inuse ${r.inuse} > objects ${r.objects}`);
  for (const p of r.problems) out.push(`${at}: ${p}`);
  // inuse counts every object not on slab->freelist, the cpu freelist's included.
  if (r.inuse + r.slabFree !== r.objects) {
    out.push(`${at}: inuse ${r.inuse} + |slab freelist| ${r.slabFree} != objects ${r.objects}`);
  }
  if (r.cpuFree > r.inuse) out.push(`${at}: cpu freelist ${r.cpuFree} longer than inuse ${r.inuse}`);
  if (s.sheafOnly && r.place.kind !== 'node_partial' && r.slPartial) out.push(`${at}: SL_partial but on no partial list`);
  const both = r.cachedIdx.filter((i) => r.freeIdx.includes(i));
  if (both.length > 0) out.push(`${at}: objects ${both.join(', ')} are both on a freelist and in a sheaf`);
  switch (r.place.kind) {
    case 'cpu':
    case 'cpu_partial':
      if (!r.frozen) out.push(`${at}: ${r.place.kind} of CPU${r.place.cpu} but not frozen`);
      break;
    case 'node_partial':
      if (r.frozen) out.push(`${at}: on the node partial list but frozen`);
      if (r.slabFree === 0) out.push(`${at}: on the node partial list with no free object`);
      if (s.sheafOnly && !r.slPartial) out.push(`${at}: on the node partial list without SL_partial`);
      break;
    case 'full_list':
      if (r.frozen || r.slabFree !== 0) out.push(`${at}: on the full list but frozen or not full`);
      break;
    case 'none':
      if (r.frozen) out.push(`${at}: frozen but no CPU holds it (lost)`);
      else if (r.slabFree !== 0) out.push(`${at}: has ${r.slabFree} free objects but is on no list (lost)`);
      else if (s.flags & SLAB_FLAGS.store_user) out.push(`${at}: full but not on the full list`);
      break;
  }
}

/**
 * The sheaves of `s` against the invariants written beside CACHE_CPU, CACHE_NODE and
 * SHEAF: every CPU has a main sheaf and its local lock free; sheaves belong to `s` and
 * hold at most sheaf_capacity objects (a barn's full ones exactly that many, its empty
 * ones none) of `s`, each in one sheaf only; the barn counts match its lists; and each
 * sheaf is an allocated kmalloc object.
 */
function checkSheaves(s: KmemCache, records: readonly SlabRecord[], sheaves: readonly SheafRecord[], out: string[]): void {
  const m = s.m;
  const cap = s.sheafCapacity;
  const where = new Map<number, string>();
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    const c = cpuSlabOff(s, cpu);
    if (m.u32[c + CACHE_CPU.main] === 0) out.push(`${s.name}: CPU${cpu} has no main sheaf`);
    if (m.u32[c + CACHE_CPU.pcsLock] !== 0) out.push(`${s.name}: CPU${cpu}'s cpu_sheaves->lock is held`);
  }
  for (const sh of sheaves) {
    // made only for a message: this runs after every race run
    const at = (): string =>
      `${s.name}: ${sh.place} sheaf 0x${sh.addr.toString(16)}${sh.cpu !== undefined ? ` of CPU${sh.cpu}` : ` of node ${sh.node}`}`;
    if (sh.cache !== s.id) out.push(`${at()}: belongs to cache id ${sh.cache}`);
    if (sh.size > cap) out.push(`${at()}: holds ${sh.size} objects, more than its capacity ${cap}`);
    if (sh.place === 'barn_full' && sh.size !== cap) out.push(`${at()}: a full sheaf with ${sh.size} of ${cap} objects`);
    if (sh.place === 'barn_empty' && sh.size !== 0) out.push(`${at()}: an empty sheaf with ${sh.size} objects`);
    for (const o of sh.objects) {
      const pfn = validAddr(m, o) ? virtToHeadPfn(m, o) : 0;
      const p = pageOff(m, pfn);
      if (
        pfn === 0 ||
        m.u32[p + PAGE.slabCache] !== s.id + 1 ||
        objectIndex(s, pfn, objectsOf(m.u32[p + SLAB_COUNTERS]), o) < 0
      ) {
        out.push(`${at()}: 0x${o.toString(16)} is not an object of ${s.name}`);
        continue;
      }
      const before = where.get(o);
      if (before !== undefined) out.push(`${at()}: object 0x${o.toString(16)} is also in the ${before} sheaf`);
      where.set(o, sh.place);
    }
    checkStorage(s, sh.addr, at, out);
  }
  // distinct slabs, distinct indices within each: every cached index is an object of its own
  const seen = records.reduce((sum, r) => sum + r.cachedIdx.length, 0);
  if (seen !== where.size) out.push(`${s.name}: ${where.size} objects in sheaves but ${seen} found in its slabs`);
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    const count = (place: string) => sheaves.filter((sh) => sh.node === node && sh.place === place).length;
    if (count('barn_full') !== m.u32[n + CACHE_NODE.nrFull])
      out.push(
        `${s.name}: node ${node} barn nr_full == ${m.u32[n + CACHE_NODE.nrFull]} but ${count('barn_full')} full sheaves are listed`,
      );
    if (count('barn_empty') !== m.u32[n + CACHE_NODE.nrEmpty])
      out.push(
        `${s.name}: node ${node} barn nr_empty == ${m.u32[n + CACHE_NODE.nrEmpty]} but ${count('barn_empty')} empty sheaves are listed`,
      );
    if (m.u32[n + CACHE_NODE.barnLock] !== 0) out.push(`${s.name}: node ${node} barn->lock is held`);
  }
}

/** A sheaf's memory is an allocated object of a kmalloc cache (not on its freelists). */
function checkStorage(s: KmemCache, addr: number, at: () => string, out: string[]): void {
  const m = s.m;
  const pfn = validAddr(m, addr) ? virtToHeadPfn(m, addr) : 0;
  const p = pageOff(m, pfn);
  if (pfn === 0 || !(m.u32[p + PAGE.flags] & PG.slab)) {
    out.push(`${at()}: its memory is not in a slab`);
    return;
  }
  const k = cacheById(m, m.u32[p + PAGE.slabCache] - 1);
  const index = objectIndex(k, pfn, objectsOf(m.u32[p + SLAB_COUNTERS]), addr);
  if (index < 0) out.push(`${at()}: its memory is not an object of ${k.name}`);
  else if (freelistIndices(k, pfn, m.u32[p + SLAB_FREELIST]).includes(index))
    out.push(`${at()}: its memory is free in ${k.name}`);
}
