// The shape of the per-CPU page lists (which orders, which list) and their sizing
// (pcp->high, pcp->batch) as each profile's kernel does it at boot, with the zone
// watermarks 6.6 derives pcp->high from. Plain code, run by
// create() before any CPU runs. mm/page_alloc.c: zone_batchsize(), pageset_set_batch()
// (5.4), zone_highsize() (6.6), calculate_min_free_kbytes(), __setup_per_zone_wmarks().
import type { MachineConfig } from '../config.js';
import { type Machine, pcpOff } from '../shm/machine.js';
import { MAX_ORDER, MIGRATE_PCPTYPES, MIGRATE_UNMOVABLE, NR_PCP_LISTS, PAGE_ALLOC_COSTLY_ORDER, PCP } from '../shm/structs.js';

/** The boot pageset: high 0, batch 1, so that nothing stays on a list (what --no-pcp shows). */
export const BOOT_PAGESET_HIGH = 0;
export const BOOT_PAGESET_BATCH = 1;

const rounddownPowOfTwo = (n: number): number => 2 ** Math.floor(Math.log2(n));

/**
 * zone_batchsize(): ~0.1% of the zone or 1 MiB, whichever is smaller, divided by 4 and
 * clamped to 2^n - 1 ("a power of 2 value was found to be more likely to have
 * suboptimal cache aliasing properties"). A zone under 4096 pages gets 0 (5.4 then has
 * high == 0: every free goes straight back to the zone) or, after 6.6's max(1, ...), 1.
 */
export function zoneBatchsize(managedPages: number, pageSize: number): number {
  let batch = Math.min(Math.floor(managedPages / 1024), Math.floor((1024 * 1024) / pageSize));
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  return rounddownPowOfTwo(batch + Math.floor(batch / 2)) - 1;
}

export interface Watermarks {
  min: number;
  low: number;
  high: number;
}

const isqrt = (n: number): number => Math.floor(Math.sqrt(n));

/** mult_frac(x, n, d): x * n / d without overflowing x * n, as the kernel rounds it. */
const multFrac = (x: number, n: number, d: number): number => Math.floor(x / d) * n + Math.floor(((x % d) * n) / d);

/**
 * The watermarks of every zone (one Normal zone per node): calculate_min_free_kbytes()
 * (4 * sqrt(lowmem in KiB), clamped to 128 KiB .. 256 MiB; 5.4 clamps at 64 MiB, which
 * no simulated memory reaches) spread over the zones by size, then
 * __setup_per_zone_wmarks() with watermark_scale_factor 10: low = min + max(min / 4,
 * managed / 1000), high = low + the same step. Every zone has the same size here.
 */
export function zoneWatermarks(cfg: MachineConfig): Watermarks {
  const managed = Math.floor(cfg.memory / cfg.pageSize / cfg.nodes);
  const lowmemPages = managed * cfg.nodes;
  const kib = cfg.pageSize >> 10;
  const minFreeKbytes = Math.min(Math.max(isqrt(lowmemPages * kib * 16), 128), 262144);
  const pagesMin = Math.floor(minFreeKbytes / kib);
  const min = Math.floor((pagesMin * managed) / lowmemPages);
  const step = Math.max(min >> 2, multFrac(managed, 10, 10000));
  return { min, low: min + step, high: min + 2 * step };
}

/**
 * pcp->high and pcp->batch of every pageset of a zone.
 * 5.4 pageset_set_batch(): high = 6 * batch, batch = max(1, batch).
 * 6.6 zone_set_pageset_high_and_batch(): batch = max(1, zone_batchsize()); high is the
 * zone's low watermark split over the CPUs of its node (so that full lists do not wake
 * kswapd early), at least 4 * batch. The last update at boot comes from
 * setup_per_zone_wmarks() with every CPU online, so every CPU of the node counts.
 */
export function pagesetHighBatch(cfg: MachineConfig, node: number): { high: number; batch: number } {
  const managed = Math.floor(cfg.memory / cfg.pageSize / cfg.nodes);
  const batch = zoneBatchsize(managed, cfg.pageSize);
  if (cfg.profile === '5.4') return { high: 6 * batch, batch: Math.max(1, batch) };
  const b = Math.max(1, batch);
  let localCpus = 0; // CPU i is on node floor(i * nodes / cpus) (shm/machine.ts cpuNode)
  for (let cpu = 0; cpu < cfg.cpus; cpu++) if (Math.floor((cpu * cfg.nodes) / cfg.cpus) === node) localCpus++;
  const high = Math.floor(zoneWatermarks(cfg).low / (localCpus || cfg.cpus));
  return { high: Math.max(high, b << 2), batch: b };
}

/**
 * pageblock_order with CONFIG_TRANSPARENT_HUGEPAGE: HPAGE_PMD_ORDER, PMD_SHIFT (21 on
 * x86-64) less PAGE_SHIFT: 9 with 4 KiB pages. 6.6 keeps one pcp list for this order.
 */
export const thpOrder = (pageShift: number): number => Math.min(21 - pageShift, MAX_ORDER - 1);

/** pcp_allowed_order(): 5.4 order 0; 6.6 orders up to PAGE_ALLOC_COSTLY_ORDER and the THP order. */
export function pcpAllowedOrder(m: Machine, order: number): boolean {
  if (order === 0) return true;
  if (m.cfg.profile === '5.4') return false;
  return order <= PAGE_ALLOC_COSTLY_ORDER || order === thpOrder(m.pageShift);
}

/** order_to_pindex(): 6.6 lists are by (order, type), THP last; 5.4 by type alone. */
export function orderToPindex(m: Machine, order: number): number {
  if (m.cfg.profile === '5.4') return MIGRATE_UNMOVABLE;
  if (order > PAGE_ALLOC_COSTLY_ORDER) return NR_PCP_LISTS['6.6'] - 1;
  return MIGRATE_PCPTYPES * order + MIGRATE_UNMOVABLE;
}

/** pindex_to_order() */
export function pindexToOrder(m: Machine, pindex: number): number {
  if (m.cfg.profile === '5.4') return 0;
  if (pindex === NR_PCP_LISTS['6.6'] - 1) return thpOrder(m.pageShift);
  return Math.floor(pindex / MIGRATE_PCPTYPES);
}

/** The orders that have pcp lists: 5.4 order 0; 6.6 orders 0..PAGE_ALLOC_COSTLY_ORDER and the THP order. */
export function pcpOrders(cfg: MachineConfig): number[] {
  if (cfg.profile === '5.4') return [0];
  const out = Array.from({ length: PAGE_ALLOC_COSTLY_ORDER + 1 }, (_, k) => k);
  return [...out, thpOrder(Math.log2(cfg.pageSize))];
}

/** setup_zone_pageset() for every zone: empty lists and their high and batch (the boot pageset's with --no-pcp). */
export function setupZonePageset(m: Machine): void {
  for (let node = 0; node < m.cfg.nodes; node++) {
    const hb = m.cfg.pcp ? pagesetHighBatch(m.cfg, node) : { high: BOOT_PAGESET_HIGH, batch: BOOT_PAGESET_BATCH };
    for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
      const p = pcpOff(m, node, cpu);
      m.u32.fill(0, p, p + PCP.STRIDE); // unlocked, count 0, every list empty (NIL is 0)
      m.u32[p + PCP.high] = hb.high;
      m.u32[p + PCP.batch] = hb.batch;
    }
  }
}
