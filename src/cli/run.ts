import { type Command, Option } from 'commander';
import { DEFAULT_CONFIG, PROFILES, type Profile } from '../config.js';
import type { PcpStat } from '../shm/structs.js';
import { buddyinfoLine } from '../report/buddyinfo.js';
import { htmlReport } from '../report/html.js';
import { procBuddyinfo, procSlabinfo, procZoneinfo } from '../report/procfs.js';
import { writeSysfsTree } from '../report/sysfs.js';
import { type RunReport, runWorkload, WORKLOADS } from '../workload/run.js';
import {
  durationArg,
  fraction,
  intIn,
  machineInt,
  oneOf,
  profileArg,
  seedArg,
  sheafCapacityArg,
  sizeArg,
  sizeRange,
} from './options.js';
import { ALLOCATORS, type AllocatorName } from '../workload/allocators.js';
import { progressBar } from './progress.js';
import { applySpec, loadSpec } from './spec.js';
import { tuneV8ForWorkloads } from '../workload/v8_flags.js';
import { EXIT_INTERRUPTED, onInterrupt, yieldToSignals } from './interrupt.js';
import { checkWritable, checkWritableDir, writeOutput, writeOutputDir } from './output.js';

interface RunFlags {
  workload: (typeof WORKLOADS)[number];
  cpus: number;
  nodes: number;
  memory: number;
  pageSize: number;
  profile: Profile;
  ops?: number;
  seed: number;
  maxOrder: number;
  maxHeld: number;
  irqRate: number;
  size: [number, number];
  cache?: string;
  sheafCapacity?: number;
  debug?: string | true;
  hardened?: boolean;
  randomFreelist?: boolean;
  batch: number;
  slots: number;
  epochs: number;
  json?: string;
  procSlabinfo?: string;
  sysfsOut?: string;
  buddyinfo?: string;
  zoneinfo?: string;
  pcp: boolean;
  report?: string;
  quiet?: boolean;
  spec?: string;
  allocator: AllocatorName;
  duration?: number;
}

/** The largest --ops: also the cap of a --duration run (per-CPU counts stay below 2^31). */
const MAX_OPS = 1e9;
/** Without --ops or --duration a run lasts this long: long enough for a steady rate after warm-up. */
const DEFAULT_DURATION_MS = 2000;

export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a workload on N CPU worker threads and print a report')
    .addOption(new Option('--workload <name>', `workload: ${WORKLOADS.join(', ')}`).argParser(oneOf(WORKLOADS)).default('larson'))
    .addOption(new Option('--cpus <n>', 'simulated CPUs (1..64)').argParser(machineInt('cpus')).default(DEFAULT_CONFIG.cpus))
    .addOption(new Option('--nodes <n>', 'NUMA nodes (1..8)').argParser(machineInt('nodes')).default(DEFAULT_CONFIG.nodes))
    .addOption(
      new Option('--memory <size>', 'simulated memory, e.g. 64M (256K..1024M)')
        .argParser(sizeArg)
        .default(DEFAULT_CONFIG.memory, '64M'),
    )
    .addOption(
      new Option('--page-size <bytes>', 'page size, a power of two (4096..65536)')
        .argParser(machineInt('pageSize'))
        .default(4096),
    )
    .addOption(new Option('--profile <p>', `kernel profile: ${PROFILES.join(', ')}`).argParser(profileArg).default('5.4'))
    .addOption(
      new Option(
        '--ops <n>',
        'operations of all CPUs together (an alloc and a free are two; rounded down to even); default: a 2s --duration',
      ).argParser(intIn(1, MAX_OPS)),
    )
    .addOption(new Option('--seed <n>', 'seed of every random choice').argParser(seedArg).default(1))
    .addOption(new Option('--max-order <k>', 'pages: largest order asked for (0..10)').argParser(intIn(0, 10)).default(3))
    .addOption(new Option('--max-held <n>', 'pages: most blocks one CPU holds at once').argParser(intIn(1, 1e6)).default(64))
    .addOption(
      new Option('--irq-rate <p>', 'chance of a same-CPU interrupt at each interruption point (0..1)')
        .argParser(fraction)
        .default(0),
    )
    .addOption(
      new Option('--size <min-max>', 'object sizes in bytes, e.g. 16-256 (kmalloc)')
        .argParser(sizeRange)
        .default([16, 256], '16-256'),
    )
    .addOption(
      new Option('--allocator <name>', `slub or a classic pool: ${ALLOCATORS.join(', ')} (nginx and mp run connections)`)
        .argParser(oneOf(ALLOCATORS))
        .default('slub'),
    )
    .option('--cache <name>', 'allocate from a new cache of this name (object size: the top of --size) instead of kmalloc')
    .addOption(
      new Option('--sheaf-capacity <n>', "the --cache's kmem_cache_args.sheaf_capacity (profiles 6.18 and 7.0)").argParser(
        sheafCapacityArg,
      ),
    )
    .option(
      '--debug [opts]',
      'slub_debug= for the run\'s caches: letters F Z P U (T A O -), optionally ",cache,..." (6.6: blocks joined by ";", "*" globs; 5.4: one cache-name prefix); bare: FZPU everywhere',
    )
    .option('--hardened', 'CONFIG_SLAB_FREELIST_HARDENED: store free pointers obfuscated (s->random drawn from --seed)')
    .option(
      '--random-freelist',
      'CONFIG_SLAB_FREELIST_RANDOM: new slabs get shuffled freelists (s->random_seq drawn from --seed)',
    )
    .addOption(new Option('--batch <n>', 'threadtest, xmalloc: objects per batch').argParser(intIn(1, 1e6)).default(64))
    .addOption(new Option('--slots <n>', 'larson: slots per CPU array').argParser(intIn(1, 1e6)).default(64))
    .addOption(new Option('--epochs <n>', 'larson: hand-offs of the slot arrays').argParser(intIn(1, 1e6)).default(4))
    .option('--json <file>', "write the run as JSON ('-' for stdout)")
    .option('--proc-slabinfo <file>', "write /proc/slabinfo (version 2.1) of the end of the run ('-' for stdout)")
    .option('--sysfs-out <dir>', 'write a /sys/kernel/slab tree of the end of the run (a new or empty directory)')
    .option('--buddyinfo <file>', "write /proc/buddyinfo of the end of the run ('-' for stdout)")
    .option(
      '--zoneinfo <file>',
      "write /proc/zoneinfo of the end of the run: zones and the per-CPU pagesets as the CPUs left them ('-' for stdout)",
    )
    .option('--no-pcp', 'no per-CPU page lists: every page allocation and free goes to the zone (for comparison)')
    .option('--report <file.html>', "write an HTML report with charts, one self-contained file ('-' for stdout)")
    .option('--quiet', 'print nothing but errors')
    .addOption(
      new Option(
        '--duration <time>',
        'run for this long after every CPU has started, e.g. 10s (then --ops is only a cap); default 2s unless --ops is given',
      ).argParser(durationArg),
    )
    .option('--spec <file>', 'take options from a JSON file (keys: the long option names); the command line wins')
    .action(async (flags: RunFlags, cmd: Command) => {
      if (flags.spec) applySpec(flags as unknown as Record<string, unknown>, loadSpec(flags.spec, cmd), cmd);
      const files = [flags.json, flags.procSlabinfo, flags.buddyinfo, flags.zoneinfo, flags.report];
      for (const f of files) if (f) checkWritable(f);
      if (flags.sysfsOut) checkWritableDir(flags.sysfsOut);
      // A duration unless only --ops was given; then --ops is a cap, and with none the time alone ends the run.
      const duration = flags.duration ?? (flags.ops === undefined ? DEFAULT_DURATION_MS : undefined);
      const ops = flags.ops ?? MAX_OPS;
      const talk = !flags.quiet && !files.includes('-');
      const progress = progressBar(ops, talk, duration);
      tuneV8ForWorkloads(); // before the workers compile anything
      const interrupt = onInterrupt();
      // The summary's first line once the CPUs run (a sign for scripts that they do), the rest at the end.
      let headed = false;
      const head = (): void => {
        if (talk && !headed) process.stdout.write(`${header(flags)}\n`);
        headed = true;
      };
      try {
        const report = await runWorkload({
          onProgress: progress.update,
          // (Under a progress bar, on a terminal, the line waits for the end.)
          onStart: () => {
            if (!process.stderr.isTTY) head();
          },
          signal: interrupt.signal,
          workload: flags.workload,
          machine: {
            cpus: flags.cpus,
            nodes: flags.nodes,
            memory: flags.memory,
            pageSize: flags.pageSize,
            profile: flags.profile,
            pcp: flags.pcp,
          },
          ops,
          durationMs: duration,
          allocator: flags.allocator,
          seed: flags.seed,
          maxOrder: flags.maxOrder,
          maxHeld: flags.maxHeld,
          irqRate: flags.irqRate,
          minSize: flags.size[0],
          maxSize: flags.size[1],
          cache: flags.cache,
          sheafCapacity: flags.sheafCapacity,
          debug: flags.debug === true ? '' : flags.debug,
          hardened: flags.hardened,
          randomFreelist: flags.randomFreelist,
          batch: flags.batch,
          slots: flags.slots,
          epochs: flags.epochs,
        }).finally(progress.stop);
        // One output at a time, each whole or not at all: a second Ctrl-C lands between two.
        const outputs: Array<[string | undefined, () => void]> = [
          [flags.json, () => writeOutput(flags.json as string, `${JSON.stringify(report, null, 2)}\n`)],
          [flags.procSlabinfo, () => writeOutput(flags.procSlabinfo as string, procSlabinfo(report))],
          [flags.buddyinfo, () => writeOutput(flags.buddyinfo as string, procBuddyinfo(report))],
          [flags.zoneinfo, () => writeOutput(flags.zoneinfo as string, procZoneinfo(report))],
          [flags.report, () => writeOutput(flags.report as string, htmlReport(report))],
          [flags.sysfsOut, () => writeOutputDir(flags.sysfsOut as string, (dir) => writeSysfsTree(report, dir))],
        ];
        for (const [file, write] of outputs) {
          if (!file) continue;
          await yieldToSignals();
          write();
        }
        head();
        if (talk) process.stdout.write(summary(report));
        // A failed check says more than the interruption: it wins the exit code.
        process.exitCode = !report.checks.ok ? 1 : report.interrupted ? EXIT_INTERRUPTED : 0;
      } finally {
        interrupt.dispose();
      }
    });
}

/** The summary's first line: what runs. */
const header = (f: RunFlags): string =>
  `slabsim run: workload ${f.workload}, ${f.cpus} CPUs on ${f.nodes} node(s), profile ${f.profile}, seed ${f.seed}`;

/** The summary after the first line: what happened and what the checks found. */
function summary(r: RunReport): string {
  const lines = [
    `  ${r.ops} ops in ${r.elapsed_ms} ms: ${rateLine(r)}`,
    ...(r.interrupted
      ? ['  interrupted (Ctrl-C): the CPUs stopped at their next safe point; the checks cover what was done']
      : []),
    ...r.per_cpu.map(
      (c) =>
        `  CPU${c.cpu} (node ${c.node}): ${c.ops} ops, ${c.allocs} allocs, ${c.frees} frees, ${c.failed} failed, ${c.elapsed_ms} ms`,
    ),
    `  pages: ${r.pages.free} free of ${r.pages.total} (${r.pages.slab} in slabs, ${r.pages.pcp ?? 0} on per-CPU lists)`,
    ...pcpLine(r),
    ...buddyinfoLines(r),
    ...bootLine(r),
    ...sharingLine(r),
    ...(r.pool
      ? [
          `  ${r.pool.allocator}: ${Object.entries(r.pool.counters)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]
      : []),
    ...r.caches.filter((c) => c.stats.alloc_fastpath.total + c.stats.alloc_slowpath.total > 0).map(cacheLine),
    `  checks: ${r.checks.ok ? 'ok' : 'FAILED'} (double_issue ${r.checks.double_issue}, lost ${r.checks.lost}, live ${r.checks.live}, validate_errors ${r.checks.validate_errors})`,
    ...r.checks.messages.map((msg) => `    ${msg}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** How the rate was taken: the steady second half of the run, or the whole of a run too short for one. */
function rateLine(r: RunReport): string {
  const whole = `${r.ops_per_sec.toLocaleString('en-US')} ops/s`;
  const s = r.steady_rate;
  if (!s) return `${whole} over the whole run (too short for a steady rate: JIT warm-up included)`;
  return `${s.ops_per_sec.toLocaleString('en-US')} ops/s steady (${s.from_ms}-${s.to_ms} ms after the start; the first half, JIT warm-up, left out), ${whole} over the whole run`;
}

/** SLUB's boot options, when the run set any. */
function bootLine(r: RunReport): string[] {
  const b = r.slub;
  if (!b || (b.debug === null && !b.hardened && !b.random_freelist)) return [];
  const parts = [
    ...(b.debug === null ? [] : [`slub_debug=${b.debug === '' ? 'FZPU' : b.debug}`]),
    ...(b.hardened ? ['freelist hardened'] : []),
    ...(b.random_freelist ? ['freelist random'] : []),
  ];
  return [`  slub: ${parts.join(', ')}`];
}

/** cache-thrash/scratch: how often a new object shared its 64-byte line with another CPU's. */
function sharingLine(r: RunReport): string[] {
  if (r.workload !== 'cache-thrash' && r.workload !== 'cache-scratch') return [];
  const shared = r.per_cpu.reduce((s, c) => s + c.shared_lines, 0);
  const allocs = r.per_cpu.reduce((s, c) => s + c.allocs, 0);
  return [
    `  false sharing: ${shared} of ${allocs} allocations (${((100 * shared) / Math.max(allocs, 1)).toFixed(2)}%) had another CPU's live object in their 64-byte line`,
  ];
}

function cacheLine(c: RunReport['caches'][number]): string {
  const allocs = c.stats.alloc_fastpath.total + c.stats.alloc_slowpath.total;
  const frees = c.stats.free_fastpath.total + c.stats.free_slowpath.total;
  const fast = allocs ? Math.round((100 * c.stats.alloc_fastpath.total) / allocs) : 0;
  const ffast = frees ? Math.round((100 * c.stats.free_fastpath.total) / frees) : 0;
  return `  ${c.name}: ${allocs} allocs (${fast}% fast), ${frees} frees (${ffast}% fast), ${c.slabs} slabs, ${c.partial} partial, ${c.cpu_slabs} cpu slabs`;
}

/** The per-CPU page lists: how often they served an allocation or kept a free, summed over zones and CPUs. */
function pcpLine(r: RunReport): string[] {
  const pcp = r.pcp;
  if (!pcp) return [];
  if (!pcp.enabled) return ['  pcp: off (--no-pcp): every page went through the zone'];
  const sum = (k: PcpStat): number => pcp.zones.reduce((s, z) => s + z.pagesets.reduce((t, p) => t + p.stats[k], 0), 0);
  return [
    `  pcp (orders ${pcp.orders.join(',')}): ${sum('alloc')} allocs and ${sum('free')} frees on the lists, ` +
      `${sum('refill')} refills (${sum('refill_pages')} pages), ${sum('free_high')} bulk frees at high, ` +
      `${sum('drain')} drains, ${sum('lock_fail')} trylock failures; ${pcp.drained} pages drained at the end`,
  ];
}

/** /proc/buddyinfo lines rebuilt from the report's counts. */
const buddyinfoLines = (r: RunReport): string[] => r.pages.buddyinfo.map((b) => `  ${buddyinfoLine(b.node, b.nr_free)}`);
