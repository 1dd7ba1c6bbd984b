// slabsim race / replay / list: seeded, budgeted race exploration for people and CI.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { PROFILES, type Profile } from '../config.js';
import { MUTANT_MODES, MUTANTS, MUTANT_NAMES, type MutantName } from '../mm/slub/mutants.js';
import { MODELS, modelByName, modelsForMutant } from '../race/catalogue.js';
import {
  type ExploreOptions,
  type DporModelReport,
  dporMemoryModelRefusal,
  type ExploreReport,
  STRATEGIES,
  type StrategyName,
  mergeReports,
  RACE_SCHEMAS,
} from '../race/explore.js';
import type { Model } from '../race/model.js';
import { checkScheduleMode } from '../race/api.js';
import { MEMORY_MODELS, type MemoryModel } from '../sched/memory_model.js';
import { DEFAULT_MAX_STEPS, parseRaceSchedule, parseScheduleString, runRace, traceLines } from '../race/run.js';
import { parseShard, type Shard, shardFromEnv } from '../race/shard.js';
import { exploreOnWorkers } from '../race/workers.js';
import { DPOR_ALGORITHMS, type DporAlgorithm } from '../sched/dpor/search.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import { type FileModel, fileReplayCommand, inFile, loadModelFiles, loadModelFilesFor } from './model_files.js';
import { compiledModelFile } from './model_bundle.js';
import { invocation } from './invocation.js';
import { durationArg, intIn, oneOf, seedArg } from './options.js';
import { checkWritable, OutputError, writeOutput } from './output.js';
import { junitXml } from '../report/junit.js';
import { EXIT_INTERRUPTED, onInterrupt, yieldToSignals } from './interrupt.js';

export interface ModelFlags {
  model?: string[];
  export?: string;
}

interface RaceFlags extends ModelFlags {
  scenario?: string;
  mutant?: MutantName;
  strategy: StrategyName;
  dpor?: DporAlgorithm;
  depth: number;
  preemptionBound?: number;
  memoryModel?: MemoryModel;
  runs?: number;
  budget?: number;
  seed: number;
  profile: Profile | 'all';
  shard: Shard | 'auto';
  workers: number;
  maxSteps?: number;
  json?: string;
  junit?: string;
  merge?: boolean;
  quiet?: boolean;
}

function shardArg(text: string): Shard | 'auto' {
  if (text === 'auto') return 'auto';
  try {
    return parseShard(text);
  } catch {
    throw new InvalidArgumentError("expected K/N with 0 <= K < N (K counts from 0), e.g. 0/4, or 'auto'");
  }
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** --preemption-bound: 0..20, or 'none' (no bound). */
function boundArg(text: string): number {
  if (text === 'none') return Infinity;
  try {
    return intIn(0, 20)(text);
  } catch {
    throw new InvalidArgumentError("expected an integer in 0..20, or 'none'");
  }
}

/** --model FILE (repeatable) and --export NAME, shared by race, replay and list. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <file>', 'a model file of your own (.ts, .js, .mjs; default export or --export); repeatable', collect)
    .option(
      '--export <name>',
      "with --model: the export that holds the model (default: the default export; replay and view --schedule: the export of the schedule's model)",
    );
}

/** The models of --model files; with a schedule and no --export, the export that holds its model. */
export async function fileModels(f: ModelFlags, schedule?: string): Promise<FileModel[]> {
  if (f.export !== undefined && !f.model) throw new OutputError('--export needs --model FILE');
  if (!f.model) return [];
  if (schedule !== undefined && f.export === undefined)
    return loadModelFilesFor(f.model, parseScheduleString(schedule).modelName);
  return loadModelFiles(f.model, f.export);
}

export function addRaceCommands(program: Command): void {
  const race = program
    .command('race')
    .description('explore interleavings of race scenarios; exit 0: nothing found, 1: a check failed, 2: bad usage')
    .argument('[reports...]', 'with --merge: JSON reports of shards to combine')
    .option('--scenario <name>', `a scenario name or 'all' (see slabsim list; default all, or none with --model)`)
    .addOption(
      new Option('--mutant <name>', `run a deliberately broken variant: ${MUTANT_NAMES.join(', ')}`).argParser(
        oneOf(MUTANT_NAMES),
      ),
    )
    .addOption(
      new Option('--strategy <s>', 'random, pct, dfs or dpor (one run per Mazurkiewicz trace)')
        .argParser(oneOf(STRATEGIES))
        .default('random'),
    )
    .addOption(
      new Option(
        '--dpor <algorithm>',
        'with --strategy dpor: optimal (wakeup trees) or source (source sets, sleep sets)',
      ).argParser(oneOf(DPOR_ALGORITHMS)),
    )
    .addOption(new Option('--depth <d>', 'PCT depth (bug depth to target)').argParser(intIn(1, 20)).default(3))
    .addOption(
      new Option(
        '--preemption-bound <b>',
        "DFS, DPOR: at most this many preemptions per run ('none': every execution; default 2 for dfs, none for dpor)",
      ).argParser(boundArg),
    )
    .addOption(
      new Option(
        '--memory-model <m>',
        `${MEMORY_MODELS.join(', ')} (default: each model's own, else sc; docs/memory-models.md)`,
      ).argParser(oneOf(MEMORY_MODELS)),
    )
    .addOption(new Option('--runs <n>', 'runs per scenario and profile').argParser(intIn(1, 1e9)))
    .addOption(new Option('--budget <time>', 'stop after this long, e.g. 30s (default 30s unless --runs)').argParser(durationArg))
    .addOption(new Option('--seed <n>', 'first seed').argParser(seedArg).default(1))
    .addOption(
      new Option('--profile <p>', `${PROFILES.join(', ')} or 'all' (each scenario on the profiles it applies to)`)
        .argParser(oneOf([...PROFILES, 'all'] as const))
        .default('all'),
    )
    .addOption(
      new Option(
        '--shard <k/n|auto>',
        "take runs k, k+n, ... of the seed space (dpor: states k, k+n, ... of one search's frontier; merge shards with --merge); 'auto': from the CI's parallel-job variables",
      )
        .argParser(shardArg)
        .default([0, 1], '0/1'),
    )
    .addOption(
      new Option('--workers <n>', 'threads to spread runs over (dpor: disjoint parts of one search)')
        .argParser(intIn(1, 64))
        .default(1),
    )
    .addOption(
      new Option(
        '--max-steps <n>',
        `steps one run may take before it is reported as a possible livelock (default ${DEFAULT_MAX_STEPS})`,
      ).argParser(intIn(1, 1e9)),
    )
    .option('--json <file>', "write the report as JSON ('-' for stdout)")
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--merge', 'combine the JSON reports given as arguments instead of exploring')
    .option('--quiet', 'print only failures');
  addModelOptions(race).action(async (reports: string[], f: RaceFlags) => {
    for (const out of [f.json, f.junit]) if (out) checkWritable(out);
    const interrupt = onInterrupt();
    try {
      const report = f.merge ? mergeFiles(reports) : await runExploration(f, interrupt.signal);
      await yieldToSignals();
      if (f.json) writeOutput(f.json, `${JSON.stringify(report, null, 2)}\n`);
      await yieldToSignals();
      if (f.junit) writeOutput(f.junit, junitXml(report));
      if (f.json !== '-') process.stdout.write(raceText(report, !!f.quiet));
      process.exitCode = report.failures > 0 ? 1 : report.interrupted ? EXIT_INTERRUPTED : 0;
    } finally {
      interrupt.dispose();
    }
  });

  const replayCmd = program
    .command('replay')
    .description('re-run one schedule bit for bit; exit 1 if it fails its checks, as the original did')
    .argument('<schedule>', 'a schedule string printed by slabsim race (v1:... under sc, v2:... naming its memory model)')
    .option(
      '--trace',
      'print the interleaving: per step the CPU, what it read or wrote, where it stopped (weaker memory modes: flushes, stale reads, store buffers)',
    )
    .addOption(new Option('--max-steps <n>', 'the step limit the run was explored with').argParser(intIn(1, 1e9)))
    .addOption(
      new Option('--memory-model <m>', 'refuse the schedule unless it names this memory model (v1: sc)').argParser(
        oneOf(MEMORY_MODELS),
      ),
    );
  addModelOptions(replayCmd).action(
    async (schedule: string, f: ModelFlags & { trace?: boolean; maxSteps?: number; memoryModel?: MemoryModel }) => {
      const fromFiles = await fileModels(f, schedule);
      const { cfg, choices } = parseRaceSchedule(schedule, fromFiles.length ? fromFiles.map((x) => x.model) : MODELS);
      checkScheduleMode(cfg.memoryModel ?? 'sc', f.memoryModel);
      const replay = new ReplayStrategy(choices);
      const r = runRace(cfg, replay, { trace: f.trace, maxSteps: f.maxSteps });
      if (f.trace) process.stdout.write(`${traceLines(r.trace ?? []).join('\n')}\n`);
      const mode = cfg.memoryModel ?? 'sc';
      const where = [
        cfg.profile,
        cfg.mutant ? `mutant ${cfg.mutant}` : '',
        `seed ${cfg.seed}`,
        mode === 'sc' ? '' : `memory model ${mode}`,
      ]
        .filter(Boolean)
        .join(', ');
      process.stdout.write(`${cfg.model.name} (${where}): ${r.steps} steps, ${r.failed ? 'FAILED' : 'ok'}\n`);
      for (const msg of r.messages) process.stdout.write(`  ${msg}\n`);
      if (!replay.finished)
        process.stdout.write(`  note: the run ended before the schedule did (${choices.length} choices given)\n`);
      process.exitCode = r.failed ? 1 : 0;
    },
  );

  const list = program
    .command('list')
    .description('the race scenarios and mutants, one line each (with --model: the models of a file)')
    .option('--json', 'print JSON');
  addModelOptions(list).action(async (f: ModelFlags & { json?: boolean }) => {
    const fromFiles = await fileModels(f);
    const scenarios = (fromFiles.length ? fromFiles.map((x) => x.model) : MODELS).map((m) => ({
      name: m.name,
      cpus: m.cpus,
      doc: m.doc,
      profiles: m.profiles ?? [],
      mutants: m.mutants ?? [],
      broken: m.broken ?? false,
      ...(m.source && fromFiles.length ? { file: fromFiles.find((x) => x.model.name === m.name)?.file } : {}),
    }));
    if (fromFiles.length) {
      if (f.json) process.stdout.write(`${JSON.stringify({ models: scenarios }, null, 2)}\n`);
      else for (const s of scenarios) process.stdout.write(`  ${s.name.padEnd(32)} ${s.cpus} CPUs  ${s.doc}\n`);
      return;
    }
    const mutants = MUTANT_NAMES.map((name) => ({
      name,
      doc: MUTANTS[name],
      mode: MUTANT_MODES[name],
      scenarios: modelsForMutant(name).map((m) => m.name),
    }));
    if (f.json) {
      process.stdout.write(`${JSON.stringify({ scenarios, mutants }, null, 2)}\n`);
      return;
    }
    process.stdout.write('scenarios:\n');
    for (const s of scenarios)
      process.stdout.write(
        `  ${s.name.padEnd(32)} ${s.cpus} CPUs  ${s.doc}${s.profiles.length ? ` [${s.profiles.join(' ')}]` : ''}${s.broken ? ' [broken by design: not in all]' : ''}\n`,
      );
    process.stdout.write(
      'mutants (with the memory mode that finds each; race --mutant uses it unless --memory-model says otherwise):\n',
    );
    for (const m of mutants) process.stdout.write(`  ${m.name.padEnd(32)} ${m.mode.padEnd(4)} ${m.doc}\n`);
  });
}

/** Explore on worker threads (one unless --workers): the main thread stays free to take a Ctrl-C. */
async function runExploration(f: RaceFlags, signal: AbortSignal): Promise<ExploreReport> {
  const fromFiles = await fileModels(f);
  let models = builtInSelection(f.scenario ?? (fromFiles.length ? undefined : 'all'));
  if (f.mutant) {
    const fit = modelsForMutant(f.mutant);
    models = f.scenario === undefined || f.scenario === 'all' ? fit : models.filter((m) => fit.includes(m));
    if (models.length === 0) throw new OutputError(`mutant ${f.mutant} does not apply to scenario ${f.scenario}`);
  }
  models = [...models, ...fromFiles.map((x) => x.model)];
  const profiles = f.profile === 'all' ? PROFILES : [f.profile];
  if (!models.some((m) => m.profiles === undefined || profiles.some((p) => m.profiles?.includes(p)))) {
    throw new OutputError(`scenario ${f.scenario} does not apply to profile ${f.profile} (see slabsim list)`);
  }
  if (f.dpor !== undefined && f.strategy !== 'dpor') throw new OutputError(`--dpor ${f.dpor} needs --strategy dpor`);
  // The exhaustive strategies run until their space is done unless told otherwise.
  const exhaustive = f.strategy === 'dfs' || f.strategy === 'dpor';
  const budgetMs = f.budget ?? (f.runs === undefined && !exhaustive ? 30_000 : 0);
  // A mutant that drops an ordering hides under sc: hunt it in the mode that finds it.
  const memoryModel = f.memoryModel ?? (f.mutant ? mutantMode(f.mutant) : undefined);
  const refused = f.strategy === 'dpor' ? dporMemoryModelRefusal(models, memoryModel) : null;
  if (refused) throw new OutputError(refused.replace(/^strategy dpor/, '--strategy dpor'));
  const opts: ExploreOptions = {
    models,
    profiles,
    mutant: f.mutant ?? null,
    strategy: f.strategy,
    dpor: f.dpor,
    depth: f.depth,
    preemptionBound: f.preemptionBound ?? (f.strategy === 'dpor' ? Infinity : 2),
    memoryModel,
    runs: f.runs ?? 1e9,
    budgetMs,
    seed: f.seed,
    shard: f.shard === 'auto' ? shardFromEnv(process.env) : f.shard,
    maxSteps: f.maxSteps,
    stopAtFirstFailure: f.mutant !== undefined,
    onEstimate: (model, profile, n) => {
      if (!f.quiet)
        process.stdout.write(
          `dfs ${model}${profile ? ` (${profile})` : ''}: about ${n} executions ${(f.preemptionBound ?? 2) === Infinity ? 'with no preemption bound' : `within ${f.preemptionBound ?? 2} preemptions`}\n`,
        );
    },
    replayCommand: (schedule, model) => {
      const fm = fromFiles.find((x) => x.model.name === model.name);
      const steps = f.maxSteps === undefined ? '' : ` --max-steps ${f.maxSteps}`;
      return fm ? `${fileReplayCommand(fm, schedule)}${steps}` : `${invocation()} replay '${schedule}' --trace${steps}`;
    },
  };
  try {
    return await exploreOnWorkers(opts, f.workers, signal, await compiledForWorkers(fromFiles));
  } catch (e) {
    throw inFile(e, fromFiles);
  }
}

/** The model files compiled for the explore workers (as the main thread loaded them), where they compile. */
async function compiledForWorkers(fromFiles: readonly FileModel[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of new Set(fromFiles.flatMap((x) => x.model.source ?? []))) {
    const compiled = await compiledModelFile(path);
    if (compiled !== null) out[path] = compiled;
  }
  return out;
}

/** The mode `race --mutant` hunts in by default: the mutant's own, unless that is sc (then each model's own). */
const mutantMode = (mutant: MutantName): MemoryModel | undefined =>
  MUTANT_MODES[mutant] === 'sc' ? undefined : MUTANT_MODES[mutant];

/** The built-in models --scenario names: one, 'all' (but the broken-by-design ones), or none. */
function builtInSelection(scenario: string | undefined): Model[] {
  if (scenario === undefined) return [];
  if (scenario === 'all') return MODELS.filter((m) => !m.broken);
  const model = modelByName(scenario);
  if (!model)
    throw new OutputError(`unknown scenario '${scenario}' (expected one of ${MODELS.map((m) => m.name).join(', ')}, or all)`);
  return [model];
}

function mergeFiles(files: string[]): ExploreReport {
  if (files.length === 0) throw new OutputError('--merge needs the JSON reports to combine');
  const reports = files.map((file) => {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as ExploreReport;
      if (!RACE_SCHEMAS.includes(r.schema)) throw new Error(`schema ${String(r.schema)} (expected ${RACE_SCHEMAS.join(' or ')})`);
      return r;
    } catch (e) {
      throw new OutputError(`cannot merge '${file}': ${(e as Error).message}`);
    }
  });
  return mergeReports(reports);
}

/** What a DPOR search covered, in a few words: the trace count when it is one. */
export function dporText(d: DporModelReport): string {
  const bound = d.bound === null ? '' : ` within ${d.bound} preemptions`;
  const kinds = `${d.blocked} blocked${d.sleep_blocked > 0 || d.algorithm === 'source' ? `, ${d.sleep_blocked} sleep-blocked` : ''}`;
  const what =
    d.bound === null
      ? `${d.complete} complete executions, one per trace (${kinds})`
      : `${d.complete} complete executions (${kinds}; bounded: not a trace count)`;
  const covered = d.exhausted
    ? d.bound === null
      ? 'every interleaving explored'
      : `every interleaving${bound} explored`
    : 'space not exhausted';
  return `dpor ${d.algorithm}${bound}: ${what}, ${covered}`;
}

/** The text report: a jcstress-style table of outcomes per scenario, then failures. */
export function raceText(r: ExploreReport, quiet: boolean): string {
  const lines: string[] = [];
  for (const m of r.models) {
    if (quiet && !m.failure) continue;
    const space = m.dpor
      ? `, ${dporText(m.dpor)}`
      : m.exhausted === undefined
        ? ''
        : m.exhausted
          ? ', space exhausted'
          : ', space not exhausted';
    const head = [m.profile, m.memory_model ? `memory model ${m.memory_model}` : ''].filter(Boolean).join(', ');
    lines.push(
      `${m.model}${head ? ` (${head})` : ''}: ${m.runs} runs, ${m.steps} steps${space}, ${m.failure ? 'FAILED' : 'no failure'}`,
    );
    lines.push('      count  grade       outcome');
    for (const o of m.outcomes.slice(0, 8)) lines.push(`  ${String(o.count).padStart(9)}  ${o.grade.padEnd(10)}  ${o.outcome}`);
    if (m.outcomes.length > 8) lines.push(`  ... ${m.outcomes.length - 8} more outcomes`);
    if (m.failure) {
      const f = m.failure;
      lines.push(`  violated: ${f.messages[0]}`);
      lines.push(`  seed ${f.seed}; schedule (${f.schedule.length} chars): ${f.schedule}`);
      lines.push(`  shrunk (${f.preemptions.before} -> ${f.preemptions.after} preemptions): ${f.shrunk}`);
      lines.push(`  replay: ${f.replay}`);
    }
  }
  if (r.interrupted) lines.push('interrupted (Ctrl-C): the counts cover the runs done before it');
  lines.push(
    `${r.runs} runs, ${r.steps} steps in ${r.elapsed_ms} ms (${r.steps_per_sec.toLocaleString('en-US')} steps/s with setup and checks, ${r.sched_steps_per_sec.toLocaleString('en-US')} in the scheduler), strategy ${r.strategy}, seed ${r.seed}, shard ${r.shard}: ${r.failures} failing scenario(s)`,
  );
  return `${lines.join('\n')}\n`;
}
