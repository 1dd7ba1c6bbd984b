// The kernel's own audits of a cache, on the main thread while no CPU runs:
// validate_slab_cache() (the sysfs `validate` write, and what lib/slub_kunit.c calls)
// and the leak report of __kmem_cache_shutdown() (list_slab_objects()).
import { SlabError, type SlabErrorReport } from '../../errors.js';
import type { Machine } from '../../shm/machine.js';
import { CACHE_NODE } from '../../shm/structs.js';
import { makeCpu } from '../cpu.js';
import { nodeLock } from './cache_ops.js';
import { validateSlab } from './debug.js';
import { flushCpuSlab } from './deactivate.fast.js';
import { cacheById, type KmemCache } from './kmem_cache.js';
import { objectAt } from './objects.js';
import { bugLine, hex, liveReporter, reportMark, slabErrorCount, slabReportsSince } from './report.js';
import { listPfns, slabRecords } from './walk.js';

/** What one validation found: its error count as KUnit counts it, and the lines it printed. */
export type ValidateReport = SlabErrorReport;

/**
 * validate_slab_cache(): flush_all(), then under each node's list_lock validate_slab()
 * on every partial slab, and with SLAB_STORE_USER on every full slab too, checking the
 * slab counts against nr_partial and nr_slabs. Repairs what it finds, as the kernel
 * does. 6.x allows it only on debug caches (the sysfs write fails with -EINVAL
 * otherwise: EINVAL here); 5.4 validates any cache (only the free pointers of free
 * objects are checked when no debug flag is set).
 */
export function validateSlabCache(m: Machine, id: number): ValidateReport {
  const s = cacheById(m, id);
  if (s.v66 && !s.debug) {
    throw new SlabError('EINVAL', `validate ${s.name}: 6.x validates only caches with debug flags (slub_debug=FZPU)`);
  }
  const errorsBefore = slabErrorCount(s);
  const mark = reportMark(m);
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) flushCpuSlab(s, makeCpu(m, cpu));
  for (let node = 0; node < m.cfg.nodes; node++) validateSlabNode(s, node);
  return {
    errors: slabErrorCount(s) - errorsBefore,
    messages: slabReportsSince(m, mark).map((r) => r.text),
  };
}

/** validate_slab_node(). */
function validateSlabNode(s: KmemCache, node: number): void {
  const m = s.m;
  const n = s.node0 + node * CACHE_NODE.STRIDE;
  nodeLock(s, n, () => {
    let count = 0;
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.partialHead])) {
      validateSlab(liveReporter, s, pfn);
      count++;
    }
    const nrPartial = m.u32[n + CACHE_NODE.nrPartial];
    if (count !== nrPartial) {
      liveReporter.count(s, 'bug', `SLUB ${s.name}: ${count} partial slabs counted but counter=${nrPartial}`);
    }
    if (!s.storeUser) return;
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.fullHead])) {
      validateSlab(liveReporter, s, pfn);
      count++;
    }
    const nrSlabs = m.u32[n + CACHE_NODE.nrSlabs];
    if (count !== nrSlabs) liveReporter.count(s, 'bug', `SLUB: ${s.name} ${count} slabs counted but counter=${nrSlabs}`);
  });
}

/**
 * What __kmem_cache_shutdown() would report about `s`, without changing anything:
 * after flush_all() a slab with objects both allocated and free is on a partial list,
 * and free_partial() calls list_slab_objects() on it: slab_err "Objects remaining in %s
 * on __kmem_cache_shutdown()" (1 error) and one "Object 0x%p @offset=%tu" line per
 * allocated object (1 error each since 6.12's fix of test_leak_destroy, whose expected
 * count went from 1 to 2 for one leaked object). A slab whose objects are all allocated
 * is on no list (or the full list) and is not listed: it only keeps nr_slabs non-zero.
 * Then the kernel's own complaint: "kmem_cache_destroy %s: Slab cache still has objects".
 */
export function shutdownReport(s: KmemCache): SlabErrorReport {
  const messages: string[] = [];
  let errors = 0;
  let unlisted = 0;
  let remaining = false;
  for (const r of slabRecords(s)) {
    const free = new Set(r.freeIdx);
    const live = r.objects - free.size;
    if (live === 0) continue;
    remaining = true;
    if (live === r.objects) {
      unlisted += live;
      continue;
    }
    messages.push(bugLine(s, `Objects remaining in ${s.name} on __kmem_cache_shutdown()`));
    errors++;
    const base = objectAt(s, r.pfn, 0) - s.redLeftPad;
    for (let i = 0; i < r.objects; i++) {
      if (free.has(i)) continue;
      const obj = objectAt(s, r.pfn, i);
      messages.push(`Object ${hex(obj)} @offset=${obj - base}`);
      errors++;
    }
  }
  if (unlisted > 0) messages.push(`(${unlisted} more objects in full slabs, which the kernel does not list)`);
  if (remaining) {
    messages.push(
      s.v66
        ? `kmem_cache_destroy ${s.name}: Slab cache still has objects when called from kmem_cache_destroy`
        : `kmem_cache_destroy ${s.name}: Slab cache still has objects`,
    );
  }
  return { errors, messages };
}
