// The kernel's slabinfo tool (tools/mm/slabinfo.c, formerly tools/vm/slabinfo.c) run
// against the /sys/kernel/slab tree that sysfs.ts rebuilds from a saved run. It reads the
// tree the way the tool reads sysfs (read_slab_dir: get_obj/atol of each attribute's
// first line, the " N<node>=" lists of `slabs` and `partial`), then links aliases,
// renames merged caches, sorts and prints with the tool's own strings and printf formats:
//   listing (-l, the default), activity listing (-D), empty caches too (-z), and the
//   detailed report of one cache (-r).
// Quirks of the tool are kept and marked "slabinfo.c quirk".
import { SlabError } from '../errors.js';
import { STAT_ITEMS, type StatItem } from '../shm/structs.js';
import type { RunReport } from '../workload/run.js';
import { sprintf } from './printf.js';
import { type SysfsTree, sysfsTree } from './sysfs.js';

export interface SlabinfoOptions {
  /** -r: the detailed report of one cache: its name, an alias, or its sysfs directory */
  report?: string;
  /** -D: the activity listing (allocations, frees, fast path shares) */
  activity?: boolean;
  /** -z: list caches that have no slabs too */
  zero?: boolean;
}

/** struct slabinfo: what read_slab_dir() takes from one cache directory. */
interface Slab {
  name: string;
  dir: string;
  refs: number;
  aliases: number;
  align: number;
  cache_dma: number;
  cpu_slabs: number;
  destroy_by_rcu: number;
  hwcache_align: number;
  object_size: number;
  objs_per_slab: number;
  sanity_checks: number;
  slab_size: number;
  store_user: number;
  trace: number;
  order: number;
  poison: number;
  reclaim_account: number;
  red_zone: number;
  partial: number;
  objects: number;
  slabs: number;
  objects_partial: number;
  objects_total: number;
  stat: Record<StatItem, number>;
  numa: Map<number, number>;
  numa_partial: Map<number, number>;
}

/** struct aliasinfo */
interface Alias {
  name: string;
  ref: string;
  slab?: Slab;
}

/** store_size(): over 1000 (1e6, 1e9) shown in K (M, G) with one decimal, truncated: 12345 -> "12.3K". */
export function storeSize(value: number, showBytes = false): string {
  let divisor = 1;
  let trailer = '';
  if (!showBytes) {
    if (value > 1_000_000_000) {
      divisor = 100_000_000;
      trailer = 'G';
    } else if (value > 1_000_000) {
      divisor = 100_000;
      trailer = 'M';
    } else if (value > 1000) {
      divisor = 100;
      trailer = 'K';
    }
  }
  const digits = sprintf('%ld', Math.floor(value / divisor));
  // The memmove puts a '.' before the last digit whenever the value was divided.
  return divisor === 1 ? digits + trailer : `${digits.slice(0, -1)}.${digits.slice(-1)}${trailer}`;
}

/** strcasecmp() on the names' bytes, ASCII case folded. */
function strcasecmp(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  for (let i = 0; ; i++) {
    const c1 = i < x.length ? lower(x[i]) : 0;
    const c2 = i < y.length ? lower(y[i]) : 0;
    if (c1 !== c2 || c1 === 0) return c1 - c2;
  }
}

/** atol()/strtoul() of a C string: leading blanks, a sign, digits; returns the value and the rest. */
function strtol(text: string): [number, string] {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text) as RegExpExecArray;
  if (m[2] === '') return [0, text];
  return [(m[1] === '-' ? -1 : 1) * Number(m[2]), text.slice(m[0].length)];
}

/** The tool run once: its global state (line, highest_node, ...) and its output. */
class Tool {
  out = '';
  line = 0;
  highestNode = 0;
  slabs: Slab[] = [];
  aliasinfo: Alias[] = [];
  actualSlabs = 0;
  readonly skipZero: boolean;
  readonly showActivity: boolean;
  readonly showReport: boolean;
  readonly pageSize: number;

  constructor(
    readonly tree: SysfsTree,
    report: RunReport,
    opts: SlabinfoOptions,
  ) {
    this.skipZero = !opts.zero;
    this.showActivity = opts.activity === true;
    this.showReport = opts.report !== undefined;
    this.pageSize = report.config.pageSize; // getpagesize() of the simulated machine
  }

  printf(format: string, ...args: Array<number | string>): void {
    this.out += sprintf(format, ...args);
  }

  /** read_obj(): the first line of an attribute file, without its newline; '' if there is none. */
  readObj(files: Record<string, string>, name: string): string {
    const text = files[name];
    if (text === undefined) return '';
    const nl = text.indexOf('\n');
    return nl < 0 ? text.slice(0, 4095) : text.slice(0, Math.min(nl, 4095));
  }

  getObj(files: Record<string, string>, name: string): number {
    return strtol(this.readObj(files, name))[0];
  }

  /** get_obj_and_str() + decode_numa_list(): the number and its " N<node>=<n>" list. */
  getObjAndNuma(files: Record<string, string>, name: string): [number, Map<number, number>] {
    const [value, rest] = strtol(this.readObj(files, name));
    const numa = new Map<number, number>();
    let t = rest.replace(/^ +/, '');
    while (t.startsWith('N')) {
      const [node, afterNode] = strtol(t.slice(1));
      t = afterNode;
      if (t.startsWith('=')) {
        const [nr, afterNr] = strtol(t.slice(1));
        t = afterNr;
        numa.set(node, nr);
        if (node > this.highestNode) this.highestNode = node;
      }
      t = t.replace(/^ +/, '');
    }
    return [value, numa];
  }

  /** read_slab_dir(): directories are caches, symlinks are aliases; `match` is the name pattern. */
  readSlabDir(match: (name: string) => boolean): void {
    for (const l of this.tree.links) {
      if (l.name[0] === '.' || !match(l.name)) continue;
      this.aliasinfo.push({ name: l.name, ref: l.target.slice(l.target.lastIndexOf('/') + 1) });
    }
    for (const d of this.tree.dirs) {
      if (d.name[0] === '.' || (d.name[0] !== ':' && !match(d.name))) continue;
      const f = d.files;
      const [partial, numaPartial] = this.getObjAndNuma(f, 'partial');
      const [slabs, numa] = this.getObjAndNuma(f, 'slabs');
      const stat = {} as Record<StatItem, number>;
      for (const item of STAT_ITEMS) stat[item] = this.getObj(f, item);
      this.slabs.push({
        name: d.name,
        dir: d.name,
        refs: 0,
        aliases: this.getObj(f, 'aliases'),
        align: this.getObj(f, 'align'),
        cache_dma: this.getObj(f, 'cache_dma'),
        cpu_slabs: this.getObj(f, 'cpu_slabs'),
        destroy_by_rcu: this.getObj(f, 'destroy_by_rcu'),
        hwcache_align: this.getObj(f, 'hwcache_align'),
        object_size: this.getObj(f, 'object_size'),
        objects: this.getObj(f, 'objects'),
        objects_partial: this.getObj(f, 'objects_partial'),
        // slabinfo.c quirk: it reads "objects_total", but the kernel's file is
        // "total_objects", so this is always 0 (and the tool never uses it).
        objects_total: this.getObj(f, 'objects_total'),
        objs_per_slab: this.getObj(f, 'objs_per_slab'),
        order: this.getObj(f, 'order'),
        partial,
        numa_partial: numaPartial,
        poison: this.getObj(f, 'poison'),
        reclaim_account: this.getObj(f, 'reclaim_account'),
        red_zone: this.getObj(f, 'red_zone'),
        sanity_checks: this.getObj(f, 'sanity_checks'),
        slab_size: this.getObj(f, 'slab_size'),
        slabs,
        numa,
        store_user: this.getObj(f, 'store_user'),
        trace: this.getObj(f, 'trace'),
        stat,
      });
    }
    this.actualSlabs = this.slabs.length;
  }

  /** link_slabs(): every alias to its directory. */
  linkSlabs(): void {
    for (const a of this.aliasinfo) {
      const s = this.slabs.find((x) => x.name === a.ref);
      if (!s) throw new Error(`Unresolved alias ${a.ref}`);
      a.slab = s;
      s.refs++;
    }
  }

  /**
   * find_one_alias(). slabinfo.c quirk: despite "shortest" in its comment it keeps the
   * longest name, unless one starting with "kmall" comes up, which it takes at once.
   */
  findOneAlias(find: Slab): Alias | undefined {
    let best: Alias | undefined;
    for (const a of this.aliasinfo) {
      if (a.slab === find && (!best || Buffer.byteLength(best.name) < Buffer.byteLength(a.name))) {
        best = a;
        if (a.name.startsWith('kmall')) return best;
      }
    }
    return best;
  }

  /** rename_slabs(): a ":" directory with one alias shows under it; with none it is hidden ("*"). */
  renameSlabs(): void {
    for (const s of this.slabs) {
      if (s.name[0] !== ':') continue;
      if (s.refs > 1) continue; // and no -f
      const a = this.findOneAlias(s);
      if (a) s.name = a.name;
      else {
        s.name = '*';
        this.actualSlabs--;
      }
    }
  }

  /** sort_slabs() by name (no -S/-A/-L/-P/-i): its exchange sort, as written. */
  sortSlabs(): void {
    const v = this.slabs;
    for (let i = 0; i < v.length; i++) {
      for (let j = i + 1; j < v.length; j++) {
        if (strcasecmp(v[i].name, v[j].name) > 0) [v[i], v[j]] = [v[j], v[i]];
      }
    }
  }

  outputSlabs(): void {
    for (const s of this.slabs) {
      if (this.showReport) this.report(s);
      else this.slabcache(s);
    }
  }

  firstLine(): void {
    if (this.showActivity) this.printf('Name                   Objects      Alloc       Free   %%Fast Fallb O CmpX   UL\n');
    else this.printf('Name                   Objects Objsize           %s Slabs/Part/Cpu  O/S O %%Fr %%Ef Flg\n', 'Space');
  }

  slabSize(s: Slab): number {
    return s.slabs * (this.pageSize << s.order);
  }

  slabcache(s: Slab): void {
    if (s.name === '*') return;
    if (this.actualSlabs === 1) {
      this.report(s);
      return;
    }
    if (this.skipZero && !s.slabs) return;
    const sizeStr = storeSize(this.slabSize(s));
    const distStr = sprintf('%lu/%lu/%d', s.slabs - s.cpu_slabs, s.partial, s.cpu_slabs);
    if (!this.line++) this.firstLine();
    let flags = '';
    if (s.aliases) flags += '*';
    if (s.cache_dma) flags += 'd';
    if (s.hwcache_align) flags += 'A';
    if (s.poison) flags += 'P';
    if (s.reclaim_account) flags += 'a';
    if (s.red_zone) flags += 'Z';
    if (s.sanity_checks) flags += 'F';
    if (s.store_user) flags += 'U';
    if (s.trace) flags += 'T';
    const st = s.stat;
    if (this.showActivity) {
      const totalAlloc = st.alloc_fastpath + st.alloc_slowpath;
      const totalFree = st.free_fastpath + st.free_slowpath;
      this.printf(
        '%-21s %8ld %10ld %10ld %3ld %3ld %5ld %1d %4ld %4ld\n',
        s.name,
        s.objects,
        totalAlloc,
        totalFree,
        totalAlloc ? Math.floor((st.alloc_fastpath * 100) / totalAlloc) : 0,
        totalFree ? Math.floor((st.free_fastpath * 100) / totalFree) : 0,
        st.order_fallback,
        s.order,
        st.cmpxchg_double_fail,
        st.cmpxchg_double_cpu_fail,
      );
    } else {
      this.printf(
        '%-21s %8ld %7d %15s %14s %4d %1d %3ld %3ld %s\n',
        s.name,
        s.objects,
        s.object_size,
        sizeStr,
        distStr,
        s.objs_per_slab,
        s.order,
        s.slabs ? Math.floor((s.partial * 100) / s.slabs) : 100,
        s.slabs ? Math.floor((s.objects * s.object_size * 100) / (s.slabs * (this.pageSize << s.order))) : 100,
        flags,
      );
    }
  }

  files(s: Slab): Record<string, string> {
    return (this.tree.dirs.find((d) => d.name === s.dir) as { files: Record<string, string> }).files;
  }

  /** read_slab_obj(): the whole file; '' (length 0) if it is missing or empty. */
  readSlabObj(s: Slab, name: string): string {
    return this.files(s)[name] ?? '';
  }

  report(s: Slab): void {
    if (s.name === '*') return;
    const onoff = (x: number): string => (x ? 'On ' : 'Off');
    const slabBytes = this.pageSize << s.order;
    this.printf('\nSlabcache: %-15s  Aliases: %2d Order : %2d Objects: %lu\n', s.name, s.aliases, s.order, s.objects);
    if (s.hwcache_align) this.printf('** Hardware cacheline aligned\n');
    if (s.cache_dma) this.printf('** Memory is allocated in a special DMA zone\n');
    if (s.destroy_by_rcu) this.printf('** Slabs are destroyed via RCU\n');
    if (s.reclaim_account) this.printf('** Reclaim accounting active\n');
    this.printf('\nSizes (bytes)     Slabs              Debug                Memory\n');
    this.printf('------------------------------------------------------------------------\n');
    this.printf(
      'Object : %7d  Total  : %7ld   Sanity Checks : %s  Total: %7ld\n',
      s.object_size,
      s.slabs,
      onoff(s.sanity_checks),
      s.slabs * slabBytes,
    );
    this.printf(
      'SlabObj: %7d  Full   : %7ld   Redzoning     : %s  Used : %7ld\n',
      s.slab_size,
      s.slabs - s.partial - s.cpu_slabs,
      onoff(s.red_zone),
      s.objects * s.object_size,
    );
    this.printf(
      'SlabSiz: %7d  Partial: %7ld   Poisoning     : %s  Loss : %7ld\n',
      slabBytes,
      s.partial,
      onoff(s.poison),
      s.slabs * slabBytes - s.objects * s.object_size,
    );
    this.printf(
      'Loss   : %7d  CpuSlab: %7d   Tracking      : %s  Lalig: %7ld\n',
      s.slab_size - s.object_size,
      s.cpu_slabs,
      onoff(s.store_user),
      (s.slab_size - s.object_size) * s.objects,
    );
    this.printf(
      'Align  : %7d  Objects: %7d   Tracing       : %s  Lpadd: %7ld\n',
      s.align,
      s.objs_per_slab,
      onoff(s.trace),
      (slabBytes - s.objs_per_slab * s.slab_size) * s.slabs,
    );
    this.ops(s);
    this.showTracking(s);
    this.slabNuma(s, true);
    this.slabStats(s);
  }

  /** ops(): the kernel has had no "ops" attribute since 2.6.24, so this always says so. */
  ops(s: Slab): void {
    const text = this.readSlabObj(s, 'ops');
    if (text) {
      this.printf('\n%s: kmem_cache operations\n', s.name);
      this.printf('--------------------------------------------\n');
      this.printf('%s', text);
    } else this.printf('\n%s has no kmem_cache operations\n', s.name);
  }

  /**
   * show_tracking(): /sys/kernel/debug/slab/<name>/alloc_traces (6.x, SLAB_STORE_USER
   * caches) or the sysfs alloc_calls (5.4). The run records no alloc/free tracks, so
   * the rebuilt tree has neither and this prints the tool's "No Data".
   */
  showTracking(s: Slab): void {
    this.printf('\n%s: Kernel object allocation\n', s.name);
    this.printf('-----------------------------------------------------------------------\n');
    const alloc = this.readSlabObj(s, 'alloc_calls');
    this.printf('%s', alloc || 'No Data\n');
    this.printf('\n%s: Kernel object freeing\n', s.name);
    this.printf('------------------------------------------------------------------------\n');
    const free = this.readSlabObj(s, 'free_calls');
    this.printf('%s', free || 'No Data\n');
  }

  /** slab_numa(s, mode): the per-node slab counts, or a note when only node 0 was seen. */
  slabNuma(s: Slab, mode: boolean): void {
    if (s.name === '*') return;
    if (!this.highestNode) {
      this.printf('\n%s: No NUMA information available.\n', s.name);
      return;
    }
    if (this.skipZero && !s.slabs) return;
    const nodes = Array.from({ length: this.highestNode + 1 }, (_, n) => n);
    if (!this.line) {
      this.printf('\n%-21s:', mode ? 'NUMA nodes' : 'Slab');
      for (const node of nodes) this.printf(' %4d', node);
      this.printf('\n----------------------');
      for (const _ of nodes) this.printf('-----');
      this.printf('\n');
    }
    this.printf('%-21s ', mode ? 'All slabs' : s.name);
    for (const node of nodes) this.printf(' %4s', storeSize(s.numa.get(node) ?? 0));
    this.printf('\n');
    if (mode) {
      this.printf('%-21s ', 'Partial slabs');
      for (const node of nodes) this.printf(' %4s', storeSize(s.numa_partial.get(node) ?? 0));
      this.printf('\n');
    }
    this.line++;
  }

  slabStats(s: Slab): void {
    const st = s.stat;
    if (!st.alloc_slab) return;
    const totalAlloc = st.alloc_fastpath + st.alloc_slowpath;
    const totalFree = st.free_fastpath + st.free_slowpath;
    if (!totalAlloc) return;
    const pa = (x: number): number => Math.floor((x * 100) / totalAlloc);
    const pf = (x: number): number => (totalFree ? Math.floor((x * 100) / totalFree) : 0);
    const row = (format: string, a: number, f: number): void => this.printf(format, a, f, pa(a), pf(f));
    this.printf('\n');
    this.printf('Slab Perf Counter       Alloc     Free %%Al %%Fr\n');
    this.printf('--------------------------------------------------\n');
    row('Fastpath             %8lu %8lu %3lu %3lu\n', st.alloc_fastpath, st.free_fastpath);
    row('Slowpath             %8lu %8lu %3lu %3lu\n', totalAlloc - st.alloc_fastpath, st.free_slowpath);
    row('Page Alloc           %8lu %8lu %3lu %3lu\n', st.alloc_slab, st.free_slab);
    row('Add partial          %8lu %8lu %3lu %3lu\n', st.deactivate_to_head + st.deactivate_to_tail, st.free_add_partial);
    row('Remove partial       %8lu %8lu %3lu %3lu\n', st.alloc_from_partial, st.free_remove_partial);
    row('Cpu partial list     %8lu %8lu %3lu %3lu\n', st.cpu_partial_alloc, st.cpu_partial_free);
    row('RemoteObj/SlabFrozen %8lu %8lu %3lu %3lu\n', st.deactivate_remote_frees, st.free_frozen);
    this.printf('Total                %8lu %8lu\n\n', totalAlloc, totalFree);
    if (st.cpuslab_flush) this.printf('Flushes %8lu\n', st.cpuslab_flush);
    const total = st.deactivate_full + st.deactivate_empty + st.deactivate_to_head + st.deactivate_to_tail + st.deactivate_bypass;
    if (total) {
      const pct = (x: number): number => Math.floor((x * 100) / total);
      this.printf('\nSlab Deactivation             Occurrences %%\n');
      this.printf('-------------------------------------------------\n');
      this.printf('Slab full                     %7lu  %3lu%%\n', st.deactivate_full, pct(st.deactivate_full));
      this.printf('Slab empty                    %7lu  %3lu%%\n', st.deactivate_empty, pct(st.deactivate_empty));
      this.printf('Moved to head of partial list %7lu  %3lu%%\n', st.deactivate_to_head, pct(st.deactivate_to_head));
      this.printf('Moved to tail of partial list %7lu  %3lu%%\n', st.deactivate_to_tail, pct(st.deactivate_to_tail));
      this.printf('Deactivation bypass           %7lu  %3lu%%\n', st.deactivate_bypass, pct(st.deactivate_bypass));
      this.printf('Refilled from foreign frees   %7lu  %3lu%%\n', st.alloc_refill, pct(st.alloc_refill));
      this.printf('Node mismatch                 %7lu  %3lu%%\n', st.alloc_node_mismatch, pct(st.alloc_node_mismatch));
    }
    if (st.cmpxchg_double_fail || st.cmpxchg_double_cpu_fail) {
      this.printf('\nCmpxchg_double Looping\n------------------------\n');
      this.printf(
        'Locked Cmpxchg Double redos   %lu\nUnlocked Cmpxchg Double redos %lu\n',
        st.cmpxchg_double_fail,
        st.cmpxchg_double_cpu_fail,
      );
    }
  }
}

/** The sysfs directory name or alias a name resolves to, for -r; undefined if none. */
function patternFor(report: RunReport, name: string): string | undefined {
  for (const c of report.caches) {
    if (c.name === name || c.aliases.includes(name)) return name;
    // `slabinfo -r ':0000064'` prints nothing (no alias matches, so the directory is
    // hidden as "*"); name the cache by its own name instead.
    if (c.sysfs_name === name) return c.name;
  }
  return undefined;
}

/**
 * What `slabinfo [-D] [-z]` prints (no pattern: every cache), or with `report`, what
 * `slabinfo -r '^NAME$'` prints (the tool matches case-insensitively, and reads every
 * ":" directory whatever the pattern). Throws SlabError EINVAL for an unknown cache.
 */
export function slabinfoTool(report: RunReport, opts: SlabinfoOptions = {}): string {
  const tool = new Tool(sysfsTree(report), report, opts);
  let match: (name: string) => boolean = () => true;
  if (opts.report !== undefined) {
    const pattern = patternFor(report, opts.report);
    if (pattern === undefined) throw new SlabError('EINVAL', `no cache named '${opts.report}' in this run`);
    match = (name) => name.toLowerCase() === pattern.toLowerCase();
  }
  tool.readSlabDir(match);
  tool.linkSlabs();
  tool.renameSlabs();
  tool.sortSlabs();
  tool.outputSlabs();
  return tool.out;
}
