// slabsim race / replay / list: seeded, budgeted race exploration for people and CI.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { PROFILES, type Profile } from '../config.js';
import { MUTANTS, MUTANT_NAMES, type MutantName } from '../mm/slub/mutants.js';
import { MODELS, modelByName, modelsForMutant } from '../race/catalogue.js';
import { appliesTo } from '../race/model.js';
import { type ExploreReport, STRATEGIES, type StrategyName, explore, mergeReports } from '../race/explore.js';
import { parseRaceSchedule, runRace } from '../race/run.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import { durationArg, intIn, oneOf, seedArg } from './options.js';
import { checkWritable, OutputError, writeOutput } from './output.js';
import { junitXml } from '../report/junit.js';

interface RaceFlags {
  scenario: string;
  mutant?: MutantName;
  strategy: StrategyName;
  depth: number;
  preemptionBound: number;
  runs?: number;
  budget?: number;
  seed: number;
  profile: Profile | 'all';
  shard: [number, number];
  workers: number;
  json?: string;
  junit?: string;
  merge?: boolean;
  quiet?: boolean;
}

function shardArg(text: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new InvalidArgumentError('expected K/N with 0 <= K < N, e.g. 0/4');
  return [Number(m[1]), Number(m[2])];
}

export function addRaceCommands(program: Command): void {
  program
    .command('race')
    .description('explore interleavings of race scenarios; exit 0: nothing found, 1: a check failed, 2: bad usage')
    .argument('[reports...]', 'with --merge: JSON reports of shards to combine')
    .option('--scenario <name>', `a scenario name or 'all' (see slabsim list)`, 'all')
    .addOption(
      new Option('--mutant <name>', `run a deliberately broken variant: ${MUTANT_NAMES.join(', ')}`).argParser(
        oneOf(MUTANT_NAMES),
      ),
    )
    .addOption(new Option('--strategy <s>', 'random, pct or dfs').argParser(oneOf(STRATEGIES)).default('random'))
    .addOption(new Option('--depth <d>', 'PCT depth (bug depth to target)').argParser(intIn(1, 20)).default(3))
    .addOption(
      new Option('--preemption-bound <b>', 'DFS: at most this many preemptions per run').argParser(intIn(0, 20)).default(2),
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
      new Option('--shard <k/n>', 'take runs k, k+n, ... of the seed space (merge shards with --merge)')
        .argParser(shardArg)
        .default([0, 1], '0/1'),
    )
    .addOption(new Option('--workers <n>', 'threads to spread runs over').argParser(intIn(1, 64)).default(1))
    .option('--json <file>', "write the report as JSON ('-' for stdout)")
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--merge', 'combine the JSON reports given as arguments instead of exploring')
    .option('--quiet', 'print only failures')
    .action(async (reports: string[], f: RaceFlags) => {
      for (const out of [f.json, f.junit]) if (out) checkWritable(out);
      const report = f.merge ? mergeFiles(reports) : await runExploration(f);
      if (f.json) writeOutput(f.json, `${JSON.stringify(report, null, 2)}\n`);
      if (f.junit) writeOutput(f.junit, junitXml(report));
      if (f.json !== '-') process.stdout.write(raceText(report, !!f.quiet));
      process.exitCode = report.failures > 0 ? 1 : 0;
    });

  program
    .command('replay')
    .description('re-run one schedule bit for bit; exit 1 if it fails its checks, as the original did')
    .argument('<schedule>', 'a schedule string printed by slabsim race (v1:...)')
    .option('--trace', 'print the interleaving: per step the CPU, what it read or wrote, where it stopped')
    .action((schedule: string, f: { trace?: boolean }) => {
      const { cfg, choices } = parseRaceSchedule(schedule);
      const replay = new ReplayStrategy(choices);
      const r = runRace(cfg, replay, { trace: f.trace });
      if (f.trace) process.stdout.write(`${(r.trace ?? []).join('\n')}\n`);
      process.stdout.write(
        `${cfg.model.name} (${cfg.profile}${cfg.mutant ? `, mutant ${cfg.mutant}` : ''}, seed ${cfg.seed}): ${r.steps} steps, ${r.failed ? 'FAILED' : 'ok'}\n`,
      );
      for (const msg of r.messages) process.stdout.write(`  ${msg}\n`);
      if (!replay.finished)
        process.stdout.write(`  note: the run ended before the schedule did (${choices.length} choices given)\n`);
      process.exitCode = r.failed ? 1 : 0;
    });

  program
    .command('list')
    .description('the race scenarios and mutants, one line each')
    .option('--json', 'print JSON')
    .action((f: { json?: boolean }) => {
      const scenarios = MODELS.map((m) => ({
        name: m.name,
        cpus: m.cpus,
        profiles: PROFILES.filter((p) => appliesTo(m, p)),
        doc: m.doc,
        mutants: m.mutants ?? [],
        broken: m.broken ?? false,
      }));
      const mutants = MUTANT_NAMES.map((name) => ({
        name,
        doc: MUTANTS[name],
        scenarios: modelsForMutant(name).map((m) => m.name),
      }));
      if (f.json) {
        process.stdout.write(`${JSON.stringify({ scenarios, mutants }, null, 2)}\n`);
        return;
      }
      process.stdout.write('scenarios:\n');
      for (const s of scenarios)
        process.stdout.write(
          `  ${s.name.padEnd(32)} ${s.cpus} CPUs  ${s.doc} [${s.profiles.join(' ')}]${s.broken ? ' [broken by design: not in all]' : ''}\n`,
        );
      process.stdout.write('mutants:\n');
      for (const m of mutants) process.stdout.write(`  ${m.name.padEnd(32)} ${m.doc}\n`);
    });
}

async function runExploration(f: RaceFlags): Promise<ExploreReport> {
  let models = f.scenario === 'all' ? MODELS.filter((m) => !m.broken) : [modelByName(f.scenario)];
  if (models.some((m) => m === undefined)) {
    throw new OutputError(`unknown scenario '${f.scenario}' (expected one of ${MODELS.map((m) => m.name).join(', ')}, or all)`);
  }
  if (f.mutant) {
    const fit = modelsForMutant(f.mutant);
    models = f.scenario === 'all' ? fit : models.filter((m) => m && fit.includes(m));
    if (models.length === 0) throw new OutputError(`mutant ${f.mutant} does not apply to scenario ${f.scenario}`);
  }
  const profiles = f.profile === 'all' ? PROFILES : [f.profile];
  if (!models.some((m) => m && profiles.some((p) => appliesTo(m, p)))) {
    throw new OutputError(`scenario ${f.scenario} does not apply to profile ${f.profile} (see slabsim list)`);
  }
  const budgetMs = f.budget ?? (f.runs === undefined ? 30_000 : 0);
  const opts = {
    models: models as NonNullable<(typeof models)[number]>[],
    profiles,
    mutant: f.mutant ?? null,
    strategy: f.strategy,
    depth: f.depth,
    preemptionBound: f.preemptionBound,
    runs: f.runs ?? 1e9,
    budgetMs,
    seed: f.seed,
    shard: f.shard,
    stopAtFirstFailure: f.mutant !== undefined,
    onEstimate: (model: string, profile: Profile, n: number) => {
      if (!f.quiet)
        process.stdout.write(`dfs ${model} (${profile}): about ${n} executions within ${f.preemptionBound} preemptions\n`);
    },
  };
  if (f.workers <= 1) return explore(opts);
  const { exploreOnWorkers } = await import('../race/workers.js');
  return exploreOnWorkers(opts, f.workers);
}

function mergeFiles(files: string[]): ExploreReport {
  if (files.length === 0) throw new OutputError('--merge needs the JSON reports to combine');
  const reports = files.map((file) => {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as ExploreReport;
      if (r.schema !== 'slabsim-race/1') throw new Error(`schema ${String(r.schema)}`);
      return r;
    } catch (e) {
      throw new OutputError(`cannot merge '${file}': ${(e as Error).message}`);
    }
  });
  return mergeReports(reports);
}

/** The text report: a jcstress-style table of outcomes per scenario, then failures. */
export function raceText(r: ExploreReport, quiet: boolean): string {
  const lines: string[] = [];
  for (const m of r.models) {
    if (quiet && !m.failure) continue;
    const space = m.exhausted === undefined ? '' : m.exhausted ? ', space exhausted' : ', space not exhausted';
    lines.push(`${m.model} (${m.profile}): ${m.runs} runs, ${m.steps} steps${space}, ${m.failure ? 'FAILED' : 'no failure'}`);
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
  lines.push(
    `${r.runs} runs, ${r.steps} steps in ${r.elapsed_ms} ms (${r.steps_per_sec.toLocaleString('en-US')} steps/s with setup and checks, ${r.sched_steps_per_sec.toLocaleString('en-US')} in the scheduler), strategy ${r.strategy}, seed ${r.seed}, shard ${r.shard}: ${r.failures} failing scenario(s)`,
  );
  return `${lines.join('\n')}\n`;
}
