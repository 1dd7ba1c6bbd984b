// The explorer behind `slabsim race`: runs models under a strategy for a number of runs
// or a time budget, collects the distinct outcomes, and turns the first failure of each
// model into a shrunk, replayable schedule.
import type { Profile } from '../config.js';
import type { MutantName } from '../mm/slub/mutants.js';
import type { Strategy } from '../sched/scheduler.js';
import { shrinkSchedule } from '../sched/shrink.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import { exploreDfs } from '../sched/strategies/dfs.js';
import { PctStrategy, estimatePctSteps } from '../sched/strategies/pct.js';
import { RandomStrategy } from '../sched/strategies/random.js';
import type { Trial } from '../sched/strategies/record.js';
import { appliesTo, type Model } from './model.js';
import { type RaceConfig, raceScheduleString, runRace } from './run.js';

export const RACE_SCHEMA = 'slabsim-race/1';
export const STRATEGIES = ['random', 'pct', 'dfs'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface ExploreOptions {
  models: readonly Model[];
  profiles: readonly Profile[];
  mutant: MutantName | null;
  strategy: StrategyName;
  /** PCT depth d */
  depth: number;
  /** DFS preemption bound */
  preemptionBound: number;
  /** runs per model and profile (a cap when a budget is given too) */
  runs: number;
  /** wall-clock budget for the whole exploration, ms (0: none) */
  budgetMs: number;
  seed: number;
  /** shard k of n: this process takes runs k, k+n, k+2n, ... so shards never overlap */
  shard: [number, number];
  /** stop exploring further scenarios once one has failed (a mutant hunt) */
  stopAtFirstFailure?: boolean;
  /** print the DFS estimate before a search starts */
  onEstimate?: (model: string, profile: Profile, executions: number) => void;
}

export interface Failure {
  /** the data seed and strategy seed of the failing run */
  seed: number;
  messages: string[];
  schedule: string;
  shrunk: string;
  preemptions: { before: number; after: number };
  replay: string;
}

export interface ModelReport {
  model: string;
  profile: Profile;
  runs: number;
  steps: number;
  /** ms inside the scheduler, without per-run setup and final checks */
  sched_ms: number;
  /** distinct final states, graded: a run that failed a check is forbidden */
  outcomes: Array<{ outcome: string; count: number; grade: 'acceptable' | 'forbidden' }>;
  failure?: Failure;
  /** DFS only: the whole bounded space was searched */
  exhausted?: boolean;
  estimate?: number;
}

export interface ExploreReport {
  schema: typeof RACE_SCHEMA;
  strategy: StrategyName;
  seed: number;
  shard: string;
  mutant: string | null;
  runs: number;
  steps: number;
  elapsed_ms: number;
  /** steps per second of wall time, setup and checks of every run included */
  steps_per_sec: number;
  /** steps per second inside the scheduler alone */
  sched_steps_per_sec: number;
  failures: number;
  models: ModelReport[];
}

export function explore(opts: ExploreOptions): ExploreReport {
  const t0 = performance.now();
  const pairs = opts.models.flatMap((model) =>
    opts.profiles.filter((p) => appliesTo(model, p)).map((profile) => ({ model, profile })),
  );
  const perPair = opts.budgetMs > 0 ? opts.budgetMs / pairs.length : Number.POSITIVE_INFINITY;
  const models: ModelReport[] = [];
  for (const { model, profile } of pairs) {
    if (opts.stopAtFirstFailure && models.some((r) => r.failure)) break;
    models.push(exploreOne({ model, profile, mutant: opts.mutant, seed: opts.seed }, opts, perPair));
  }
  return summarize(opts, models, performance.now() - t0);
}

export function summarize(
  opts: Pick<ExploreOptions, 'strategy' | 'seed' | 'shard'> & { mutant: string | null },
  models: ModelReport[],
  elapsedMs: number,
): ExploreReport {
  const steps = models.reduce((s, r) => s + r.steps, 0);
  const schedMs = models.reduce((s, r) => s + r.sched_ms, 0);
  return {
    schema: RACE_SCHEMA,
    strategy: opts.strategy,
    seed: opts.seed,
    shard: `${opts.shard[0]}/${opts.shard[1]}`,
    mutant: opts.mutant,
    runs: models.reduce((s, r) => s + r.runs, 0),
    steps,
    elapsed_ms: Math.round(elapsedMs),
    steps_per_sec: Math.round(steps / Math.max(elapsedMs / 1000, 1e-6)),
    sched_steps_per_sec: Math.round(steps / Math.max(schedMs / 1000, 1e-6)),
    failures: models.filter((r) => r.failure).length,
    models,
  };
}

/** Explore one model on one profile until a failure, the run cap, or the time share. */
function exploreOne(base: RaceConfig, opts: ExploreOptions, budgetMs: number): ModelReport {
  const report: ModelReport = { model: base.model.name, profile: base.profile, runs: 0, steps: 0, sched_ms: 0, outcomes: [] };
  const counts = new Map<string, { count: number; failed: boolean }>();
  const record = (outcome: string, failed: boolean, steps: number, schedMs: number): void => {
    report.runs++;
    report.steps += steps;
    report.sched_ms += schedMs;
    const c = counts.get(outcome) ?? { count: 0, failed };
    c.count++;
    counts.set(outcome, c);
  };
  const t0 = performance.now();
  if (opts.strategy === 'dfs') {
    // One data seed, every schedule within the preemption bound (sharding does not apply).
    const trial: Trial = (strategy) => {
      const r = runRace(base, strategy);
      record(r.outcome, r.failed, r.steps, r.schedMs);
      return { failed: r.failed, result: r.result };
    };
    const dfs = exploreDfs(trial, {
      preemptionBound: opts.preemptionBound,
      maxExecutions: opts.runs,
      onEstimate: (n) => opts.onEstimate?.(base.model.name, base.profile, n),
    });
    report.exhausted = dfs.exhausted;
    report.estimate = dfs.estimate;
    if (dfs.failure) report.failure = failureOf(base, dfs.failure.choices);
  } else {
    let k = 0;
    if (opts.strategy === 'pct') k = estimatePctSteps((s) => runRace(base, s).result, base.seed);
    for (let i = 0; i < opts.runs && performance.now() - t0 < budgetMs; i++) {
      const runSeed = (base.seed + i * opts.shard[1] + opts.shard[0]) >>> 0;
      const cfg = { ...base, seed: runSeed };
      const strategy: Strategy =
        opts.strategy === 'pct'
          ? new PctStrategy(runSeed, { cpus: base.model.cpus, depth: opts.depth, steps: k })
          : new RandomStrategy(runSeed);
      const r = runRace(cfg, strategy);
      record(r.outcome, r.failed, r.steps, r.schedMs);
      if (r.failed) {
        report.failure = failureOf(cfg, r.choices);
        break;
      }
    }
  }
  report.outcomes = [...counts]
    .map(([outcome, c]) => ({ outcome, count: c.count, grade: c.failed ? ('forbidden' as const) : ('acceptable' as const) }))
    .sort((a, b) => b.count - a.count);
  return report;
}

/** Shrink a failing run and describe it so that one line replays it. */
export function failureOf(cfg: RaceConfig, choices: number[]): Failure {
  const trial: Trial = (strategy) => {
    const r = runRace(cfg, strategy);
    return { failed: r.failed, result: r.result };
  };
  const shrunk = shrinkSchedule(choices, trial);
  const first = runRace(cfg, new ReplayStrategy(choices));
  const shrunkString = raceScheduleString(cfg, shrunk.choices);
  return {
    seed: cfg.seed,
    messages: first.messages,
    schedule: raceScheduleString(cfg, choices),
    shrunk: shrunkString,
    preemptions: { before: shrunk.original.preemptions, after: shrunk.preemptions },
    replay: `slabsim replay '${shrunkString}' --trace`,
  };
}

/** Combine reports of disjoint shards (or workers) of the same exploration. */
export function mergeReports(reports: ExploreReport[]): ExploreReport {
  const byKey = new Map<string, ModelReport>();
  for (const rep of reports) {
    for (const r of rep.models) {
      const key = `${r.model} ${r.profile}`;
      const into = byKey.get(key);
      if (!into) {
        byKey.set(key, structuredClone(r));
        continue;
      }
      into.runs += r.runs;
      into.steps += r.steps;
      into.sched_ms += r.sched_ms;
      into.failure ??= r.failure;
      for (const o of r.outcomes) {
        const same = into.outcomes.find((x) => x.outcome === o.outcome);
        if (same) same.count += o.count;
        else into.outcomes.push({ ...o });
      }
      into.outcomes.sort((a, b) => b.count - a.count);
    }
  }
  const first = reports[0];
  const shards = reports.map((r) => r.shard).join(',');
  const merged = summarize(
    { strategy: first.strategy, seed: first.seed, shard: [0, 1], mutant: first.mutant },
    [...byKey.values()],
    Math.max(...reports.map((r) => r.elapsed_ms)),
  );
  return { ...merged, shard: shards };
}
