// /proc files rebuilt from a saved run (RunReport), never from a live machine:
// /proc/slabinfo (mm/slab_common.c, SLUB with CONFIG_SLUB_DEBUG) and /proc/buddyinfo.
import type { RunReport } from '../workload/run.js';
import { buddyinfoLine } from './buddyinfo.js';
import { sprintf } from './printf.js';

/** print_slabinfo_header(): the version line and the column legend (one seq_puts per part). */
export const SLABINFO_HEADER =
  'slabinfo - version: 2.1\n' +
  '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>' +
  ' : tunables <limit> <batchcount> <sharedfactor>' +
  ' : slabdata <active_slabs> <num_slabs> <sharedavail>' +
  '\n';

/**
 * /proc/slabinfo, version 2.1. One row per cache (aliases have none), in the order of
 * the kernel's list: slab_start/slab_next walk slab_caches (5.4: slab_root_caches) from
 * its head, and create_cache()/create_kmalloc_cache() (5.4: memcg_link_cache) add each
 * new cache with list_add() at the head, so the newest cache comes first. The report
 * lists caches oldest first (cache id order), so rows are in reverse.
 *
 * cache_show() with SLUB's get_slabinfo(): active_objs = Σ total_objects − free objects
 * of node partial slabs (CacheReport.objects), num_objs = Σ total_objects, objsize =
 * s->size, pagesperslab = 1 << order, tunables 0 0 0 and sharedavail 0 (SLUB has none),
 * active_slabs = num_slabs = Σ nr_slabs; slabinfo_show_stats() prints nothing for SLUB.
 * The header is printed with the first row (slab_show: p == slab_caches.next), so with
 * no cache at all the file is empty, as the kernel's would be.
 */
export function procSlabinfo(report: RunReport): string {
  let out = '';
  for (const c of [...report.caches].reverse()) {
    if (out === '') out = SLABINFO_HEADER;
    out += sprintf('%-17s %6lu %6lu %6u %4u %4d', c.name, c.objects, c.total_objects, c.slab_size, c.objs_per_slab, 1 << c.order);
    out += sprintf(' : tunables %4u %4u %4u', 0, 0, 0);
    out += sprintf(' : slabdata %6lu %6lu %6lu', c.slabs, c.slabs, 0);
    out += '\n';
  }
  return out;
}

/** /proc/buddyinfo (mm/vmstat.c frag_show_print) rebuilt from the run's free counts. */
export const procBuddyinfo = (report: RunReport): string =>
  report.pages.buddyinfo.map((b) => `${buddyinfoLine(b.node, b.nr_free)}\n`).join('');
