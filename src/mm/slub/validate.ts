// validate(cache): every slab checked against the state table of structs.ts, every
// node's counters against what the slabs say. slub.c: validate_slab_cache(),
// validate_slab(), check_slab(), on_freelist() — as a read-only audit. For a debug cache
// also the red zones, poison and padding of every object, and any error SLUB debugging
// reported while the cache was used. (The kernel's validation itself, which repairs
// what it finds and counts as KUnit does, is validateSlabCache() in debug_validate.ts.)
import { CACHE_NODE } from '../../shm/structs.js';
import { MAX_OBJS_PER_PAGE } from '../../shm/word.js';
import { SLAB_FLAGS } from './geometry.js';
import type { KmemCache } from './kmem_cache.js';
import { checkObject, SLUB_RED_ACTIVE, SLUB_RED_INACTIVE, slabPadCheck } from './debug.js';
import { objectAt } from './objects.js';
import { auditReporter, slabErrorCount } from './report.js';
import { listPfns, type SlabRecord, slabRecords } from './walk.js';

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
  const records = slabRecords(s, conflicts);
  const messages = conflicts.map((c) => `${s.name}: ${c}`);
  for (const r of records) checkSlab(s, r, messages);
  if (s.debug) for (const r of records) if (r.problems.length === 0) auditObjects(s, r, messages);
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
  switch (r.place.kind) {
    case 'cpu':
    case 'cpu_partial':
      if (!r.frozen) out.push(`${at}: ${r.place.kind} of CPU${r.place.cpu} but not frozen`);
      break;
    case 'node_partial':
      if (r.frozen) out.push(`${at}: on the node partial list but frozen`);
      if (r.slabFree === 0) out.push(`${at}: on the node partial list with no free object`);
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
