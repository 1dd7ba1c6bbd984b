// The explorer behind `slabsim race`: runs models under a strategy for a number of runs
// or a time budget, collects the distinct outcomes, and turns the first failure of each
// model into a shrunk, replayable schedule.
import type { Profile } from '../config.js';
import { ModelError } from '../errors.js';
import type { MutantName } from '../mm/slub/mutants.js';
import { type DporAlgorithm, type DporRun, DporUnboundedRun, exploreDpor, type DporTrial } from '../sched/dpor/search.js';
import type { MemoryModel } from '../sched/memory_model.js';
import type { Strategy } from '../sched/scheduler.js';
import { shrinkSchedule } from '../sched/shrink.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import { exploreDfs } from '../sched/strategies/dfs.js';
import { PctStrategy, estimatePctSteps } from '../sched/strategies/pct.js';
import { RandomStrategy } from '../sched/strategies/random.js';
import type { Trial } from '../sched/strategies/record.js';
import type { Model } from './model.js';
import { type RaceConfig, raceScheduleString, runRace } from './run.js';

export const RACE_SCHEMA = 'slabsim-race/2';
/** Reports --merge takes: /1 had a profile on every model and no `interrupted`. */
export const RACE_SCHEMAS: readonly string[] = ['slabsim-race/1', RACE_SCHEMA];
/** The search strategies, by name. */
export const STRATEGIES = ['random', 'pct', 'dfs', 'dpor'] as const;
/**
 * `random`: uniform random walks; `pct`: probabilistic concurrency testing; `dfs`: every
 * schedule within a preemption bound; `dpor`: one execution per Mazurkiewicz trace
 * (dynamic partial-order reduction), exhaustive without a bound.
 */
export type StrategyName = (typeof STRATEGIES)[number];

export interface ExploreOptions {
  models: readonly Model[];
  profiles: readonly Profile[];
  mutant: MutantName | null;
  strategy: StrategyName;
  /** PCT depth d */
  depth: number;
  /** DFS and DPOR preemption bound (Infinity: none, every execution) */
  preemptionBound: number;
  /** DPOR: `optimal` (wakeup trees, the default) or `source` (source sets and sleep sets) */
  dpor?: DporAlgorithm;
  /** the memory mode of every model (default: each model's own, else sc) */
  memoryModel?: MemoryModel;
  /** runs per model and profile (a cap when a budget is given too) */
  runs: number;
  /** wall-clock budget for the whole exploration, ms (0: none) */
  budgetMs: number;
  seed: number;
  /**
   * shard k of n: this process takes runs k, k+n, k+2n, ... so shards never overlap
   * (DPOR: items k, k+n, ... of the states at a frontier of one search)
   */
  shard: [number, number];
  /** DPOR on worker threads: this thread's share [i, t] of the shard's frontier items (DporOptions.thread) */
  dporThread?: [number, number];
  /** stop exploring further scenarios once one has failed (a mutant hunt) */
  stopAtFirstFailure?: boolean;
  /** print the DFS estimate before a search starts */
  onEstimate?: (model: string, profile: Profile | null, executions: number) => void;
  /** step limit of one run (default: each model's own, else DEFAULT_MAX_STEPS) */
  maxSteps?: number;
  /** asked between runs: true ends the exploration early, with the runs made so far */
  shouldStop?: () => boolean;
  /** the command that replays a shrunk schedule (default `slabsim replay '<schedule>' --trace`) */
  replayCommand?: (schedule: string, model: Model) => string;
}

/** The first failing run of a model, shrunk. */
export interface Failure {
  /** the data seed and strategy seed of the failing run */
  seed: number;
  /** the violated checks, first the one that stopped the run */
  messages: string[];
  /** the schedule string of the run as found */
  schedule: string;
  /** the schedule string after shrinking: fewer preemptions, shorter; it fails the same way */
  shrunk: string;
  /** preemptions of the run as found, and after shrinking */
  preemptions: {
    /** as found */
    before: number;
    /** after shrinking */
    after: number;
  };
  /** the command that replays the shrunk schedule */
  replay: string;
}

/** What the exploration of one model on one profile found. */
export interface ModelReport {
  /** the model's name */
  model: string;
  /** null for a model that runs no kernel profile (explored once) */
  profile: Profile | null;
  /** the memory mode, when not sc */
  memory_model?: MemoryModel;
  /** runs made (DFS: executions) */
  runs: number;
  /** steps of all runs */
  steps: number;
  /** ms inside the scheduler, without per-run setup and final checks */
  sched_ms: number;
  /** distinct final states, graded: a run that failed a check is forbidden */
  outcomes: Array<{
    /** the state, in the model's words (Instance.outcome), or FAILED: and the violation */
    outcome: string;
    /** runs that ended in it */
    count: number;
    /** forbidden when a check failed */
    grade: 'acceptable' | 'forbidden';
  }>;
  /** the first failing run, shrunk; absent when none failed */
  failure?: Failure;
  /** DFS and DPOR: the whole (bounded) space was searched */
  exhausted?: boolean;
  /** DFS only: the executions estimated from the first run */
  estimate?: number;
  /** DPOR only: what the search explored */
  dpor?: DporModelReport;
}

/** `models[].dpor` of a DPOR exploration (docs/json.md). */
export interface DporModelReport {
  /** `optimal` or `source` */
  algorithm: DporAlgorithm;
  /** the preemption bound, or null: without one, `complete` counts Mazurkiewicz traces */
  bound: number | null;
  /** executions in which every CPU finished: one per trace (per bounded trace, under a bound) */
  complete: number;
  /** executions in which no CPU could move but some had not finished (a deadlock, a wait nobody ends) */
  blocked: number;
  /** runs cut short because every CPU that could move was asleep (source DPOR; shards) */
  sleep_blocked: number;
  /** the whole space (this shard's share of it) was explored */
  exhausted: boolean;
  /** the shard frontier */
  frontier: {
    /** its depth in steps (0: none, no shards) */
    depth: number;
    /** the states at that depth, shared out among the shards */
    items: number;
  };
}

/** The report of an exploration: the JSON of `slabsim race --json` (docs/json.md). */
export interface ExploreReport {
  /** `slabsim-race/2` */
  schema: string;
  /** the search strategy */
  strategy: StrategyName;
  /** the first seed */
  seed: number;
  /** `k/n`: the share of the seed space explored (shards merged: their list) */
  shard: string;
  /** the SLUB mutant explored, or null */
  mutant: string | null;
  /** runs of all models */
  runs: number;
  /** steps of all runs */
  steps: number;
  /** wall time of the whole exploration */
  elapsed_ms: number;
  /** steps per second of wall time, setup and checks of every run included */
  steps_per_sec: number;
  /** steps per second inside the scheduler alone */
  sched_steps_per_sec: number;
  /** models (and profiles) with a failing run */
  failures: number;
  /** the exploration was stopped (SIGINT, shouldStop) before it was done */
  interrupted?: true;
  /** one report per model and profile */
  models: ModelReport[];
}

/** Each model once per profile it runs on (among those asked for), or once if it runs none. */
export const explorationPairs = (
  models: readonly Model[],
  profiles: readonly Profile[],
): Array<{ model: Model; profile: Profile | null }> =>
  models.flatMap((model): Array<{ model: Model; profile: Profile | null }> =>
    model.profiles === undefined
      ? [{ model, profile: null }]
      : profiles.filter((p) => model.profiles?.includes(p)).map((profile) => ({ model, profile })),
  );

export function explore(opts: ExploreOptions): ExploreReport {
  const t0 = performance.now();
  const pairs = explorationPairs(opts.models, opts.profiles);
  const perPair = opts.budgetMs > 0 ? opts.budgetMs / pairs.length : Number.POSITIVE_INFINITY;
  const models: ModelReport[] = [];
  for (const { model, profile } of pairs) {
    if (opts.stopAtFirstFailure && models.some((r) => r.failure)) break;
    if (opts.shouldStop?.()) break;
    const memoryModel = opts.memoryModel ?? model.memoryModel ?? 'sc';
    models.push(exploreOne({ model, profile, mutant: opts.mutant, seed: opts.seed, memoryModel }, opts, perPair));
  }
  const report = summarize(opts, models, performance.now() - t0);
  if (opts.shouldStop?.()) report.interrupted = true;
  return report;
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
  const weak = base.memoryModel !== undefined && base.memoryModel !== 'sc';
  const report: ModelReport = {
    model: base.model.name,
    profile: base.profile,
    ...(weak ? { memory_model: base.memoryModel } : {}),
    runs: 0,
    steps: 0,
    sched_ms: 0,
    outcomes: [],
  };
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
  const run = (cfg: RaceConfig, strategy: Strategy) => runRace(cfg, strategy, { maxSteps: opts.maxSteps });
  const overBudget = (): boolean => budgetMs !== Number.POSITIVE_INFINITY && performance.now() - t0 >= budgetMs;
  if (opts.strategy === 'dpor') {
    const d = searchDpor(base, opts, budgetMs, record);
    report.exhausted = d.exhausted;
    report.dpor = d.report;
    if (d.failure) report.failure = failureOf(base, d.failure, opts);
  } else if (opts.strategy === 'dfs') {
    // One data seed, every schedule within the preemption bound (sharding does not apply).
    const trial: Trial = (strategy) => {
      const r = run(base, strategy);
      record(r.outcome, r.failed, r.steps, r.schedMs);
      return { failed: r.failed, result: r.result };
    };
    const dfs = exploreDfs(trial, {
      preemptionBound: opts.preemptionBound,
      maxExecutions: opts.runs,
      onEstimate: (n) => opts.onEstimate?.(base.model.name, base.profile, n),
      shouldStop: opts.shouldStop,
      sleepSets: weak,
    });
    report.exhausted = dfs.exhausted;
    report.estimate = dfs.estimate;
    if (dfs.failure) report.failure = failureOf(base, dfs.failure.choices, opts);
  } else {
    let k = 0;
    if (opts.strategy === 'pct') k = estimatePctSteps((s) => run(base, s).result, base.seed);
    for (let i = 0; i < opts.runs && !overBudget() && !opts.shouldStop?.(); i++) {
      const runSeed = (base.seed + i * opts.shard[1] + opts.shard[0]) >>> 0;
      const cfg = { ...base, seed: runSeed };
      const strategy: Strategy =
        opts.strategy === 'pct'
          ? new PctStrategy(runSeed, { cpus: base.model.cpus, depth: opts.depth, steps: k, buffers: weak })
          : new RandomStrategy(runSeed);
      const r = run(cfg, strategy);
      record(r.outcome, r.failed, r.steps, r.schedMs);
      if (r.failed) {
        report.failure = failureOf(cfg, r.choices, opts);
        break;
      }
    }
  }
  counts.delete(CUT);
  report.outcomes = [...counts]
    .map(([outcome, c]) => ({ outcome, count: c.count, grade: c.failed ? ('forbidden' as const) : ('acceptable' as const) }))
    .sort((a, b) => b.count - a.count);
  return report;
}

/** DPOR on one model: the search's counts, and the fair choices of its failure. */
function searchDpor(
  base: RaceConfig,
  opts: ExploreOptions,
  budgetMs: number,
  record: (outcome: string, failed: boolean, steps: number, schedMs: number) => void,
): { exhausted: boolean; report: DporModelReport; failure?: number[] } {
  const t0 = performance.now();
  const trial: DporTrial = (strategy, unfair) => {
    // DPOR's own runs: its dependency sees the words two-way code shares plainly
    const plain = unfair ? (strategy as Partial<Pick<DporRun, 'plainAccess'>>).plainAccess : undefined;
    const r = runRace(base, strategy, { maxSteps: opts.maxSteps, unfair, onPlainAccess: plain });
    if (unfair) record(r.result.outcome === 'halted' ? CUT : r.outcome, r.failed, r.steps, r.schedMs);
    return { failed: r.failed, result: r.result };
  };
  const name = base.model.name;
  try {
    const d = exploreDpor(trial, {
      algorithm: opts.dpor ?? 'optimal',
      preemptionBound: opts.preemptionBound,
      maxExecutions: opts.runs,
      shouldStop: () => opts.shouldStop?.() === true || performance.now() - t0 > budgetMs,
      shard: opts.shard,
      thread: opts.dporThread,
    });
    const report: DporModelReport = {
      algorithm: d.algorithm,
      bound: d.bound,
      complete: d.complete,
      blocked: d.blocked,
      sleep_blocked: d.sleepBlocked,
      exhausted: d.exhausted,
      frontier: d.frontier,
    };
    return { exhausted: d.exhausted, report, failure: d.failure?.choices };
  } catch (e) {
    if (e instanceof DporUnboundedRun)
      throw new ModelError(
        `model '${name}': dpor needs every run to end, but one ran past its step limit (max-steps ${e.steps}): ${raceScheduleString(base, e.choices)}`,
        name,
      );
    if (e instanceof ModelError && e.model === undefined) throw new ModelError(`model '${name}': ${e.message}`, name);
    throw e;
  }
}

/** Runs that DPOR cut short on purpose (asleep, or a shard's frontier): not outcomes. */
const CUT = '(cut short by dpor)';

/** Shrink a failing run and describe it so that one line replays it. */
export function failureOf(
  cfg: RaceConfig,
  choices: number[],
  opts: Pick<ExploreOptions, 'maxSteps' | 'replayCommand'> = {},
): Failure {
  const run = (strategy: Strategy) => runRace(cfg, strategy, { maxSteps: opts.maxSteps });
  const trial: Trial = (strategy) => {
    const r = run(strategy);
    return { failed: r.failed, result: r.result };
  };
  const shrunk = shrinkSchedule(choices, trial);
  const first = run(new ReplayStrategy(choices));
  const shrunkString = raceScheduleString(cfg, shrunk.choices);
  return {
    seed: cfg.seed,
    messages: first.messages,
    schedule: raceScheduleString(cfg, choices),
    shrunk: shrunkString,
    preemptions: { before: shrunk.original.preemptions, after: shrunk.preemptions },
    replay: (opts.replayCommand ?? defaultReplayCommand)(shrunkString, cfg.model),
  };
}

const defaultReplayCommand = (schedule: string): string => `slabsim replay '${schedule}' --trace`;

/**
 * Combine reports of disjoint shards (or workers) of the same exploration. A DPOR search
 * counts as exhausted only when every shard of it did and, with `wholeSearch`, the
 * reports are all n shards of one split (k/n for every k < n, each once).
 */
export function mergeReports(reports: ExploreReport[], { wholeSearch = true } = {}): ExploreReport {
  const byKey = new Map<string, ModelReport>();
  for (const rep of reports) {
    for (const r of rep.models) {
      const key = `${r.model} ${r.profile ?? '-'}`;
      const into = byKey.get(key);
      if (!into) {
        byKey.set(key, structuredClone(r));
        continue;
      }
      into.runs += r.runs;
      into.steps += r.steps;
      into.sched_ms += r.sched_ms;
      into.failure ??= r.failure;
      if (into.exhausted !== undefined || r.exhausted !== undefined)
        into.exhausted = into.exhausted === true && r.exhausted === true;
      if (into.dpor && r.dpor) {
        into.dpor.complete += r.dpor.complete;
        into.dpor.blocked += r.dpor.blocked;
        into.dpor.sleep_blocked += r.dpor.sleep_blocked;
        into.dpor.exhausted &&= r.dpor.exhausted;
      }
      for (const o of r.outcomes) {
        const same = into.outcomes.find((x) => x.outcome === o.outcome);
        if (same) same.count += o.count;
        else into.outcomes.push({ ...o });
      }
      into.outcomes.sort((a, b) => b.count - a.count);
    }
  }
  if (wholeSearch && !coversEveryShard(reports.map((r) => r.shard))) {
    for (const m of byKey.values()) {
      if (!m.dpor) continue;
      m.dpor.exhausted = false;
      m.exhausted = false;
    }
  }
  const first = reports[0];
  const shards = reports.map((r) => r.shard).join(',');
  const merged = summarize(
    { strategy: first.strategy, seed: first.seed, shard: [0, 1], mutant: first.mutant },
    [...byKey.values()],
    Math.max(...reports.map((r) => r.elapsed_ms)),
  );
  return { ...merged, shard: shards, ...(reports.some((r) => r.interrupted) ? { interrupted: true as const } : {}) };
}

/** Shard specs `k/n` (each maybe a comma list, from an earlier merge) that are k = 0..n-1 of one n, each once. */
function coversEveryShard(specs: readonly string[]): boolean {
  const parts = specs.flatMap((s) => s.split(','));
  const n = Number(parts[0]?.split('/')[1]);
  const ks = new Set(parts.map((p) => (Number(p.split('/')[1]) === n ? Number(p.split('/')[0]) : -1)));
  return ks.size === parts.length && ks.size === n && !ks.has(-1);
}

/**
 * The one line that refuses DPOR under a memory model other than `sc`, or null. DPOR's
 * dependency (memory-models.md §7.1) is that of sequential consistency: under `tso`,
 * `arm` or `js` a load may read a store another CPU has not yet made visible, so two
 * executions DPOR takes for equivalent can end differently; §7.7's buffers-as-processes
 * extension is not built. `memoryModel`: the one asked for (else each model's own).
 */
export function dporMemoryModelRefusal(
  models: readonly Pick<Model, 'name' | 'memoryModel'>[],
  memoryModel: MemoryModel | undefined,
): string | null {
  for (const m of models) {
    const mode = memoryModel ?? m.memoryModel ?? 'sc';
    if (mode === 'sc') continue;
    const whose = memoryModel === undefined ? ` (model '${m.name}' runs under ${mode} unless told otherwise)` : '';
    return (
      `strategy dpor explores only the sc memory model, not ${mode}${whose}: its reduction assumes every store is seen by all CPUs at once ` +
      `(use random, pct or dfs under ${mode}${memoryModel === undefined ? ', or memory model sc' : ''})`
    );
  }
  return null;
}
