// explore() and replay() for a person's own code: the engine behind `slabsim race` and
// `slabsim replay`, called with a model instead of a command line.
import { parseDuration, PROFILES, type Profile } from '../config.js';
import { SlabError } from '../errors.js';
import { MUTANT_NAMES, type MutantName } from '../mm/slub/mutants.js';
import { type MemoryModel, memoryModelOf } from '../sched/memory_model.js';
import type { TraceStep } from '../sched/scheduler.js';
import { ReplayStrategy } from '../sched/strategies/replay.js';
import {
  dporMemoryModelRefusal,
  type ExploreOptions,
  type ExploreReport,
  explore as exploreModels,
  STRATEGIES,
  type StrategyName,
} from './explore.js';
import { checkModel, type Model } from './model.js';
import { DPOR_ALGORITHMS, type DporAlgorithm } from '../sched/dpor/search.js';
import { parseRaceSchedule, runRace } from './run.js';
import { parseShard, type Shard, shardFromEnv } from './shard.js';

/** How {@link explore} searches. Every field has a default. */
export interface ExploreSettings {
  /**
   * `random` (default), `pct` (probabilistic concurrency testing), `dfs` (every schedule
   * within a preemption bound) or `dpor` (one run per Mazurkiewicz trace: every
   * interleaving, up to the order of independent accesses).
   */
  strategy?: StrategyName;
  /** With `dpor`: `optimal` (wakeup trees, the default) or `source` (source sets and sleep sets). */
  dpor?: DporAlgorithm;
  /**
   * Runs per model and profile (default 1000 when no budget is given; a cap when one is;
   * `dpor`: no cap unless given).
   */
  runs?: number;
  /** Wall-clock budget for the whole exploration: milliseconds, or a duration such as `'30s'`. */
  budget?: number | string;
  /** First seed (default 1): the same seed explores the same runs. */
  seed?: number;
  /** Threads to spread the runs over (default 1). Needs models defined in files (defineModel records the file). */
  workers?: number;
  /** This job's share of the seed space: `[k, n]`, `'k/n'`, or `'auto'` (from the CI's parallel-job variables). */
  shard?: Shard | string;
  /** PCT depth (default 3). */
  depth?: number;
  /** Preemption bound: DFS (default 2), DPOR (default none); `Infinity`: none, every execution of the model. */
  preemptionBound?: number;
  /**
   * The memory mode: `sc` (sequential consistency), `tso` (x86), `arm` (arm64 and the
   * kernel's memory model) or `js` (the ECMAScript memory model). Default: each model's
   * own `memoryModel`, else `sc`. docs/memory-models.md describes what each finds.
   */
  memoryModel?: MemoryModel;
  /** Steps one run may take before it counts as a possible livelock (default: the model's, else 100,000). */
  maxSteps?: number;
  /** Kernel profiles for models that run SLUB (default: all the model runs on). */
  profiles?: readonly Profile[];
  /** A deliberately broken SLUB variant (see `slabsim list`). */
  mutant?: MutantName;
  /** Stop at the first model that fails (default true). */
  stopAtFirstFailure?: boolean;
  /** The command a failure prints to replay it (default `npx slabsim replay '<schedule>' --model <file> --trace`). */
  replayCommand?: (schedule: string, model: Model) => string;
}

const DEFAULT_RUNS = 1000;

/**
 * Explore the interleavings of one model or several: the same search and the same report
 * as `slabsim race --json`. A failure is shrunk to a schedule string that
 * {@link replay} (or `slabsim replay`) re-runs exactly.
 *
 * Rejects with a ModelError when a model is broken as a program (a thread or a check
 * throws an ordinary error), and with a SlabError for bad settings.
 */
export async function explore(models: Model | readonly Model[], settings: ExploreSettings = {}): Promise<ExploreReport> {
  const opts = exploreOptions(Array.isArray(models) ? models : [models as Model], settings);
  const workers = settings.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new SlabError('EINVAL', `workers must be an integer from 1 to 64, got ${String(settings.workers)}`);
  if (workers === 1) return exploreModels(opts);
  const { exploreOnWorkers } = await import('./workers.js');
  return exploreOnWorkers(opts, workers);
}

/** Check the settings and fill in their defaults. */
export function exploreOptions(models: readonly Model[], s: ExploreSettings): ExploreOptions {
  const checked = models.map((m, i) => checkModel(m, `model ${i + 1}`));
  const strategy = s.strategy ?? 'random';
  if (!STRATEGIES.includes(strategy))
    throw new SlabError('EINVAL', `strategy must be one of ${STRATEGIES.join(', ')}, got '${strategy}'`);
  if (s.dpor !== undefined && !DPOR_ALGORITHMS.includes(s.dpor))
    throw new SlabError('EINVAL', `dpor must be one of ${DPOR_ALGORITHMS.join(', ')}, got '${String(s.dpor)}'`);
  if (s.dpor !== undefined && strategy !== 'dpor') throw new SlabError('EINVAL', `dpor: '${s.dpor}' needs strategy 'dpor'`);
  const budgetMs = s.budget === undefined ? 0 : typeof s.budget === 'number' ? s.budget : parseDuration(s.budget);
  if (!(budgetMs >= 0))
    throw new SlabError('EINVAL', `budget must be milliseconds or a duration like 30s, got '${String(s.budget)}'`);
  const int = (v: number | undefined, name: string, lo: number, hi: number, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new SlabError('EINVAL', `${name} must be an integer from ${lo} to ${hi}, got ${v}`);
    return v;
  };
  const profiles = s.profiles ?? PROFILES;
  for (const p of profiles)
    if (!PROFILES.includes(p)) throw new SlabError('EINVAL', `unknown profile '${p}' (expected ${PROFILES.join(', ')})`);
  if (s.mutant !== undefined && !MUTANT_NAMES.includes(s.mutant))
    throw new SlabError('EINVAL', `unknown mutant '${s.mutant}' (expected one of ${MUTANT_NAMES.join(', ')})`);
  const shard =
    s.shard === undefined
      ? ([0, 1] as Shard)
      : s.shard === 'auto'
        ? shardFromEnv(envOf())
        : typeof s.shard === 'string'
          ? parseShard(s.shard, 'shard')
          : s.shard;
  if (Array.isArray(shard)) parseShard(`${shard[0]}/${shard[1]}`, 'shard');
  const memoryModel = s.memoryModel === undefined ? undefined : memoryModelOf(s.memoryModel);
  const refused = strategy === 'dpor' ? dporMemoryModelRefusal(checked, memoryModel) : null;
  if (refused) throw new SlabError('EINVAL', refused);
  return {
    models: checked,
    profiles,
    mutant: s.mutant ?? null,
    strategy,
    dpor: s.dpor,
    depth: int(s.depth, 'depth', 1, 20, 3),
    preemptionBound:
      s.preemptionBound === Infinity
        ? Infinity
        : int(s.preemptionBound, 'preemptionBound', 0, 20, strategy === 'dpor' ? Infinity : 2),
    memoryModel,
    runs: int(s.runs, 'runs', 1, 1e9, budgetMs > 0 || strategy === 'dpor' ? 1e9 : DEFAULT_RUNS),
    budgetMs,
    seed: int(s.seed, 'seed', 0, 0xffffffff, 1),
    shard,
    maxSteps: s.maxSteps === undefined ? undefined : int(s.maxSteps, 'maxSteps', 1, 1e9, 0),
    stopAtFirstFailure: s.stopAtFirstFailure ?? true,
    replayCommand: s.replayCommand ?? ((schedule, model) => npxReplayCommand(schedule, model)),
  };
}

/**
 * `npx slabsim replay '<schedule>' --model <file> [--export NAME] --trace`, the file
 * relative to the working directory: the command that replays a failure of `model`.
 */
export function npxReplayCommand(schedule: string, model: Model, exportName?: string): string {
  const file = model.source ? ` --model ${relativeToCwd(model.source)}` : '';
  const exp = file && exportName && exportName !== 'default' ? ` --export ${exportName}` : '';
  return `npx slabsim replay '${schedule}'${file}${exp} --trace`;
}

/** What {@link replay} found. */
export interface ReplayResult {
  /** the model's name */
  model: string;
  /** the kernel profile it ran on (null: none) */
  profile: Profile | null;
  /** the data seed of the run */
  seed: number;
  /** the memory mode the schedule names */
  memoryModel: MemoryModel;
  /** steps the run made */
  steps: number;
  /** a check failed (or the run deadlocked, livelocked, or raised a finding) */
  failed: boolean;
  /** the violated checks, first the one that stopped the run */
  messages: string[];
  /** the final state in a few words */
  outcome: string;
  /** every step: the CPU, its accesses (word, value, CAS result), where it stopped next */
  trace: TraceStep[];
  /** the run used every choice of the schedule (false: it ended before the schedule did) */
  finished: boolean;
}

/** Settings of {@link replay}. */
export interface ReplaySettings {
  /** The memory mode expected: refused (SlabError) unless the schedule names it (a `v1:` schedule is `sc`). */
  memoryModel?: MemoryModel;
}

/**
 * Re-run one schedule string bit for bit and trace it, in the memory mode it names.
 * Refused (SlabError) when the schedule names another model than the ones given.
 */
export function replay(models: Model | readonly Model[], schedule: string, settings: ReplaySettings = {}): ReplayResult {
  const list = (Array.isArray(models) ? models : [models as Model]).map((m, i) => checkModel(m, `model ${i + 1}`));
  const { cfg, choices } = parseRaceSchedule(schedule, list);
  checkScheduleMode(cfg.memoryModel ?? 'sc', settings.memoryModel);
  const strategy = new ReplayStrategy(choices);
  const r = runRace(cfg, strategy, { trace: true });
  return {
    model: cfg.model.name,
    profile: cfg.profile,
    seed: cfg.seed,
    memoryModel: cfg.memoryModel ?? 'sc',
    steps: r.steps,
    failed: r.failed,
    messages: r.messages,
    outcome: r.outcome,
    trace: r.trace ?? [],
    finished: strategy.finished,
  };
}

/** A schedule replays only in the memory mode it names: `expected` (if given) must be that one. */
export function checkScheduleMode(named: MemoryModel, expected: MemoryModel | undefined): void {
  if (expected === undefined || expected === named) return;
  memoryModelOf(expected);
  throw new SlabError(
    'EINVAL',
    `the schedule names memory model ${named}${named === 'sc' ? ' (a v1 schedule)' : ''}, not ${expected}: a schedule replays only in its own mode`,
  );
}

/** process.env where there is one (Node), else nothing: this module also runs in a browser. */
function envOf(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
}

function relativeToCwd(file: string): string {
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  if (cwd && file.startsWith(`${cwd}/`)) return `./${file.slice(cwd.length + 1)}`;
  return file;
}
