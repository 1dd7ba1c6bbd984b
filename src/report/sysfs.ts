// A /sys/kernel/slab-shaped tree rebuilt from a saved run (RunReport): one directory per
// cache, symlinks for the names that resolve to a merged cache, and attribute files with
// the text the kernel's *_show functions print (mm/slub.c, CONFIG_SYSFS, CONFIG_SLUB_DEBUG,
// CONFIG_SLUB_STATS, CONFIG_NUMA, CONFIG_ZONE_DMA and CONFIG_SLUB_CPU_PARTIAL all on, as in
// distribution kernels).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SLAB_FLAGS } from '../mm/slub/geometry.js';
import { hasSheaves } from '../config.js';
import { PROFILE_STAT_ITEMS } from '../shm/structs.js';
import type { RunReport } from '../workload/run.js';
import type { CacheReport } from './caches.js';
import { sprintf } from './printf.js';

export interface SysfsDir {
  /** the directory name: CacheReport.sysfs_name */
  name: string;
  /** attribute file name -> contents */
  files: Record<string, string>;
}

export interface SysfsTree {
  dirs: SysfsDir[];
  /** symlinks in /sys/kernel/slab: name -> the directory it points to (relative, as kernfs gives) */
  links: Array<{ name: string; target: string }>;
}

/** kobject_set_name_vargs(): a '/' in a kobject name becomes '!'. */
const kobjName = (name: string): string => name.replaceAll('/', '!');

/**
 * show_slab_objects()'s text: "%lu" of the total, then " N%d=%lu" for each node whose
 * count is not zero (CONFIG_NUMA), then "\n".
 */
function slabObjects(perNode: readonly number[]): string {
  const total = perNode.reduce((a, b) => a + b, 0);
  let out = sprintf('%lu', total);
  perNode.forEach((x, node) => {
    if (x) out += sprintf(' N%d=%lu', node, x);
  });
  return `${out}\n`;
}

/** show_stat(): "%lu" of the sum, then " C%d=%u" for each CPU whose counter is not zero. */
function showStat(perCpu: readonly number[]): string {
  let out = sprintf(
    '%lu',
    perCpu.reduce((a, b) => a + b, 0),
  );
  perCpu.forEach((x, cpu) => {
    if (x) out += sprintf(' C%d=%u', cpu, x);
  });
  return `${out}\n`;
}

/**
 * slabs_cpu_partial_show(). 5.4: "%d(%d)" of Σ page->pobjects and Σ page->pages over the
 * heads of the cpu-partial lists, then " C%d=%d(%d)" per CPU with a list. 5.16+ (profile
 * 6.6): slabs from slab->slabs and objects estimated as half-full slabs,
 * (slabs * oo_objects(s->oo)) / 2, in the total and per CPU.
 */
function slabsCpuPartial(c: CacheReport, v66: boolean): string {
  const lists = c.per_cpu.filter((p) => p.partial_node !== null);
  const objectsOf = (slabs: number, pobjects: number): number => (v66 ? Math.floor((slabs * c.objs_per_slab) / 2) : pobjects);
  const slabs = lists.reduce((a, p) => a + p.partial_slabs, 0);
  const objects = v66 ? objectsOf(slabs, 0) : lists.reduce((a, p) => a + p.partial_objects, 0);
  let out = sprintf('%d(%d)', objects, slabs);
  for (const p of lists) out += sprintf(' C%d=%d(%d)', p.cpu, objectsOf(p.partial_slabs, p.partial_objects), p.partial_slabs);
  return `${out}\n`;
}

/** show_slab_objects(SO_CPU) per node: a CPU counts only with a cpu slab, then its list's head count. */
function cpuSlabsPerNode(c: CacheReport, nodes: number): number[] {
  const perNode = new Array<number>(nodes).fill(0);
  for (const p of c.per_cpu) {
    if (p.cpu_slab_node === null) continue;
    perNode[p.cpu_slab_node] += 1;
    if (p.partial_node !== null) perNode[p.partial_node] += p.partial_slabs;
  }
  return perNode;
}

/** The attribute files of one cache directory, with the text each *_show prints. */
export function sysfsAttributes(c: CacheReport, report: RunReport): Record<string, string> {
  const nodes = report.config.nodes;
  const byNode = (k: 'slabs' | 'partial' | 'total_objects' | 'objects' | 'objects_partial'): number[] => {
    const out = new Array<number>(nodes).fill(0);
    for (const n of c.per_node) out[n.node] += n[k];
    return out;
  };
  const flag = (bit: number): string => sprintf('%d\n', (c.flags & bit) !== 0 ? 1 : 0);
  const files: Record<string, string> = {
    slab_size: sprintf('%u\n', c.slab_size),
    object_size: sprintf('%u\n', c.object_size),
    objs_per_slab: sprintf('%u\n', c.objs_per_slab),
    order: sprintf('%u\n', c.order),
    min_partial: sprintf('%lu\n', c.min_partial),
    cpu_partial: sprintf('%u\n', c.cpu_partial),
    objects: slabObjects(byNode('objects')), // SO_ALL|SO_OBJECTS
    objects_partial: slabObjects(byNode('objects_partial')), // SO_PARTIAL|SO_OBJECTS
    partial: slabObjects(byNode('partial')), // SO_PARTIAL
    cpu_slabs: slabObjects(cpuSlabsPerNode(c, nodes)), // SO_CPU
    aliases: sprintf('%d\n', c.aliases.length), // s->refcount - 1
    align: sprintf('%u\n', c.align),
    hwcache_align: flag(SLAB_FLAGS.hwcache_align),
    reclaim_account: flag(SLAB_FLAGS.reclaim_account),
    destroy_by_rcu: flag(SLAB_FLAGS.typesafe_by_rcu),
    shrink: '', // shrink_show() prints nothing; writing 1 shrinks
    slabs_cpu_partial: slabsCpuPartial(c, report.config.profile !== '5.4'),
    total_objects: slabObjects(byNode('total_objects')), // SO_ALL|SO_TOTAL
    slabs: slabObjects(byNode('slabs')), // SO_ALL
    sanity_checks: flag(SLAB_FLAGS.consistency_checks),
    trace: flag(SLAB_FLAGS.trace),
    red_zone: flag(SLAB_FLAGS.red_zone),
    poison: flag(SLAB_FLAGS.poison),
    store_user: flag(SLAB_FLAGS.store_user),
    validate: '', // validate_show() prints nothing; writing 1 validates
    cache_dma: flag(SLAB_FLAGS.cache_dma),
    remote_node_defrag_ratio: sprintf('%u\n', Math.floor(c.remote_node_defrag_ratio / 10)),
  };
  // 6.18 and 7.0: sheaf_capacity_show(); 7.0's cpu_partial reads 0, slabs_cpu_partial
  // "0(0)" and cpu_slabs 0, which the values above give (no cpu partial lists or slabs).
  if (hasSheaves(report.config.profile)) files.sheaf_capacity = sprintf('%u\n', c.sheaf_capacity);
  for (const item of PROFILE_STAT_ITEMS[report.config.profile]) files[item] = showStat(c.stats[item]?.per_cpu ?? []);
  return files;
}

/**
 * The whole tree. A cache that can be merged lives under its unique id (":0000064") with
 * a symlink for its own name (sysfs_slab_add: "Setup first alias") and one for each cache
 * merged into it (__kmem_cache_alias -> sysfs_slab_alias); any other cache's directory
 * is its name.
 */
export function sysfsTree(report: RunReport): SysfsTree {
  const tree: SysfsTree = { dirs: [], links: [] };
  for (const c of report.caches) {
    const dir = kobjName(c.sysfs_name);
    // kobject_init_and_add() of a name already there fails (-EEXIST): the kernel prints
    // "SLUB: Unable to add cache %s to sysfs" and the cache has no directory and no
    // alias. (7.0: a cache created with a sheaf_capacity is never merged, yet its
    // unique id may be one a mergeable cache of the same size already holds.)
    if (tree.dirs.some((d) => d.name === dir)) continue;
    tree.dirs.push({ name: dir, files: sysfsAttributes(c, report) });
    for (const name of [c.name, ...c.aliases].map(kobjName)) if (name !== dir) tree.links.push({ name, target: dir });
  }
  return tree;
}

/**
 * Write the tree to `dir`, all or nothing: it is built in a temporary sibling directory
 * that is renamed into place; on any failure the temporary directory is removed and
 * `dir` is left as it was. `dir` must not exist or be an empty directory.
 */
export function writeSysfsTree(report: RunReport, dir: string): void {
  checkSysfsTarget(dir);
  const tree = sysfsTree(report);
  const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    for (const d of tree.dirs) {
      mkdirSync(join(tmp, d.name)); // EEXIST if two caches had one directory
      for (const [name, text] of Object.entries(d.files)) writeFileSync(join(tmp, d.name, name), text);
    }
    for (const l of tree.links) symlinkSync(l.target, join(tmp, l.name));
    renameSync(tmp, dir); // rename(2) replaces an empty directory and refuses a non-empty one
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Throws unless `dir` can become the tree: absent, or an empty directory. */
export function checkSysfsTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new Error('it exists and is not a directory');
  if (readdirSync(dir).length > 0) throw new Error('it exists and is not empty');
}
