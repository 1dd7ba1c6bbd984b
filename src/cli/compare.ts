import { type Command, Option } from 'commander';
import { ALLOCATORS, type AllocatorName } from '../workload/allocators.js';
import { compare, compareHtml, compareText } from '../workload/compare.js';
import { WORKLOADS } from '../workload/run.js';
import { PROFILES, type Profile } from '../config.js';
import { tuneV8ForWorkloads } from '../workload/v8_flags.js';
import { EXIT_INTERRUPTED, onInterrupt, yieldToSignals } from './interrupt.js';
import { durationArg, intIn, listOf, oneOf, profileArg, seedArg, sheafCapacityArg } from './options.js';
import { checkWritable, OutputError, writeOutput } from './output.js';

/** Each run's length without --ops or --duration: long enough for a steady second half. */
const DEFAULT_DURATION_MS = 1000;
/** The cap of a run with a duration (per-CPU counts stay below 2^31). */
const MAX_OPS = 1e9;

export function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('run one workload on SLUB and every pool model that fits it, at several CPU counts, and compare')
    .addOption(
      new Option('--workload <name>', 'workload').argParser(oneOf(WORKLOADS.filter((w) => w !== 'pages'))).default('threadtest'),
    )
    .addOption(new Option('--cpus <list>', 'CPU counts, e.g. 1,2,4').argParser(listOf(intIn(1, 64))).default([1, 2, 4], '1,2,4'))
    .addOption(
      new Option('--allocators <list>', `which to run (default: all that fit): ${ALLOCATORS.join(', ')}`).argParser(
        listOf(oneOf(ALLOCATORS)),
      ),
    )
    .addOption(
      new Option(
        '--profiles <list>',
        `run SLUB of each kernel profile instead of the pools, e.g. ${PROFILES.join(',')}: objects of a 128-byte cache 'compare'`,
      ).argParser(listOf(profileArg)),
    )
    .addOption(
      new Option('--sheaf-capacity <n>', "with --profiles: the cache's sheaf_capacity on 6.18 and 7.0 (as maple_node's)")
        .argParser(sheafCapacityArg)
        .default(32),
    )
    .addOption(
      new Option(
        '--duration <time>',
        'each run lasts this long after its CPUs start (default 1s unless --ops is given)',
      ).argParser(durationArg),
    )
    .addOption(new Option('--ops <n>', 'operations per run (a cap with --duration)').argParser(intIn(1, MAX_OPS)))
    .addOption(
      new Option('--repeat <n>', 'runs per row: the median is shown, the spread beside it').argParser(intIn(1, 100)).default(3),
    )
    .addOption(new Option('--seed <n>', 'seed').argParser(seedArg).default(1))
    .option('--json <file>', "write the comparison as JSON ('-' for stdout)")
    .option('--report <file.html>', 'write the comparison as one HTML page')
    .action(
      async (f: {
        workload: string;
        cpus: number[];
        allocators?: AllocatorName[];
        profiles?: Profile[];
        sheafCapacity: number;
        duration?: number;
        ops?: number;
        repeat: number;
        seed: number;
        json?: string;
        report?: string;
      }) => {
        for (const out of [f.json, f.report]) if (out) checkWritable(out);
        if (f.profiles && f.allocators)
          throw new OutputError('--profiles compares SLUB of each profile: it takes no --allocators');
        const durationMs = f.duration ?? (f.ops === undefined ? DEFAULT_DURATION_MS : undefined);
        tuneV8ForWorkloads(); // before the workers compile anything
        const interrupt = onInterrupt();
        try {
          const report = await compare(
            {
              workload: f.workload as never,
              machine: { memory: 64 << 20 },
              ops: f.ops ?? MAX_OPS,
              durationMs,
              seed: f.seed,
              maxSize: 128,
              signal: interrupt.signal,
              ...(f.profiles ? { cache: 'compare', sheafCapacity: f.sheafCapacity } : {}),
            },
            f.cpus,
            f.allocators ?? ALLOCATORS,
            undefined,
            f.profiles,
            f.repeat,
          );
          await yieldToSignals();
          if (f.json) writeOutput(f.json, `${JSON.stringify(report, null, 2)}\n`);
          await yieldToSignals();
          if (f.report) writeOutput(f.report, compareHtml(report));
          if (f.json !== '-') process.stdout.write(compareText(report));
          process.exitCode = report.rows.some((r) => !r.checks_ok) ? 1 : report.interrupted ? EXIT_INTERRUPTED : 0;
        } finally {
          interrupt.dispose();
        }
      },
    );
}
