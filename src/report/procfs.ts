// /proc files rebuilt from a saved run (RunReport), never from a live machine:
// /proc/slabinfo (mm/slab_common.c, SLUB with CONFIG_SLUB_DEBUG), /proc/zoneinfo and
// /proc/buddyinfo.
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

/**
 * /proc/zoneinfo (mm/vmstat.c zoneinfo_show_print) with the fields the simulator models,
 * in the kernel's format and order: one Normal zone per node, its free pages
 * (NR_FREE_PAGES, which does not count pages on pcp lists), watermarks and sizes, then
 * the pagesets of every CPU (for_each_online_cpu: all of them) as the CPUs left them.
 * Left out: the per-node and per-zone vmstat items, protection, boost and cma, and the
 * per-CPU "vm stats threshold" (the simulator keeps no vmstat diffs).
 */
export function procZoneinfo(report: RunReport): string {
  let out = '';
  for (const z of report.pcp?.zones ?? []) {
    out += sprintf('Node %d, zone %8s', z.node, 'Normal');
    out += sprintf(
      '\n  pages free     %lu\n        min      %lu\n        low      %lu\n        high     %lu' +
        '\n        spanned  %lu\n        present  %lu\n        managed  %lu',
      z.free,
      z.min,
      z.low,
      z.high,
      z.spanned,
      z.present,
      z.managed,
    );
    out += '\n  pagesets';
    for (const p of z.pagesets) {
      out += sprintf(
        '\n    cpu: %i\n              count: %i\n              high:  %i\n              batch: %i',
        p.cpu,
        p.count,
        p.high,
        p.batch,
      );
    }
    out += sprintf('\n  node_unreclaimable:  %u\n  start_pfn:           %lu', 0, z.start_pfn);
    out += '\n';
  }
  return out;
}

/** /proc/buddyinfo (mm/vmstat.c frag_show_print) rebuilt from the run's free counts. */
export const procBuddyinfo = (report: RunReport): string =>
  report.pages.buddyinfo.map((b) => `${buddyinfoLine(b.node, b.nr_free)}\n`).join('');
