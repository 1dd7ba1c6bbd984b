// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A
// randomized scheduler with probabilistic guarantees of finding bugs", ASPLOS 2010).
// With n CPUs, k steps and depth d, one run finds a given bug of depth d with probability
// at least 1/(n k^(d-1)). Here a step is a decision: forced steps give no choice, so
// counting them would only waste change points.
//
// In the weaker memory modes each CPU's store buffer is one more thread with a priority
// of its own (Nidhugg's auxiliary threads): a buffer of high priority flushes at once, one
// of low priority keeps its stores until nothing else can move. Which flushable store it
// flushes, and which readable value a load reads, are drawn at random.
import { SlabError } from '../../errors.js';
import { Rng } from '../../rng.js';
import type { Strategy } from '../scheduler.js';
import { RandomStrategy } from './random.js';
import { judge, type Trial } from './record.js';

/** Most bugs found in practice have depth 1 to 3 (the paper's evaluation). */
export const DEFAULT_PCT_DEPTH = 3;
/** A guess at k when the run's decision count is unknown; prefer estimatePctSteps. */
export const DEFAULT_PCT_STEPS = 1000;

export interface PctOptions {
  /** CPUs of the program: the initial priorities are a permutation over all of them */
  cpus: number;
  /** d: bugs of depth up to d are targeted; d - 1 change points */
  depth?: number;
  /** k: the number of decisions a run is expected to make */
  steps?: number;
  /** a weaker memory mode: each CPU's store buffer is a thread too */
  buffers?: boolean;
}

/** One run of PCT: make a new one (seed + run index) per run. */
export class PctStrategy implements Strategy {
  readonly name = 'pct';
  readonly depth: number;
  readonly steps: number;
  /** Higher runs first. Initial priorities are d..d+n-1, change points lower to 1..d-1. */
  private readonly priority: number[];
  /** decision number (1-based) -> priority its change point lowers to */
  private readonly changeAt = new Map<number, number>();
  private decisions = 0;
  private readonly cpus: number;
  /** flush and read choices (weaker memory modes), apart from the priorities' stream */
  private readonly aux: Rng;

  constructor(
    readonly seed: number,
    opts: PctOptions,
  ) {
    this.depth = Math.max(1, opts.depth ?? DEFAULT_PCT_DEPTH);
    this.steps = Math.max(1, opts.steps ?? DEFAULT_PCT_STEPS);
    this.cpus = opts.cpus;
    const rng = new Rng(seed, 0x9c7);
    this.priority = shuffled(
      Array.from({ length: opts.buffers ? 2 * opts.cpus : opts.cpus }, (_, i) => this.depth + i),
      rng,
    );
    this.drawChangePoints(rng);
    this.aux = new Rng(seed, 0xa7c);
  }

  /** The change points as [decision, priority] pairs, for reports. */
  get changePoints(): [number, number][] {
    return [...this.changeAt].sort((a, b) => a[0] - b[0]);
  }

  pick(runnable: readonly number[]): number {
    const low = this.changeAt.get(++this.decisions);
    // The CPU that would run now is the one lowered: that is what makes the change point
    // a preemption (lowering `last` would do nothing when a higher CPU just woke up).
    if (low !== undefined) this.priority[this.highest(runnable)] = low;
    const t = this.highest(runnable);
    if (t < this.cpus) return t;
    const mine = runnable.filter((a) => a >= this.cpus && a % this.cpus === t - this.cpus);
    return mine[this.aux.below(mine.length)];
  }

  pickRead(_cpu: number, k: number): number {
    return this.aux.below(k);
  }

  /**
   * d - 1 distinct points, uniform over 1..k; the i-th drawn lowers to priority i, as in
   * the paper (the draw order, not the time order, assigns the priorities).
   */
  private drawChangePoints(rng: Rng): void {
    const count = Math.min(this.depth - 1, this.steps);
    for (let i = 1; this.changeAt.size < count;) {
      const k = 1 + rng.below(this.steps);
      if (!this.changeAt.has(k)) this.changeAt.set(k, i++);
    }
  }

  /** The thread of highest priority that can move: a CPU, or n + c for CPU c's store buffer. */
  private highest(runnable: readonly number[]): number {
    const n = this.cpus;
    const top = runnable[runnable.length - 1];
    if (top >= n && this.priority.length === n)
      throw new SlabError('EINVAL', `pct: CPU ${top} but cpus = ${n} (and no store buffers: not a weaker memory mode)`);
    let best = runnable[0] < n ? runnable[0] : n + (runnable[0] % n);
    for (const a of runnable) {
      const t = a < n ? a : n + (a % n);
      if (this.priority[t] > this.priority[best]) best = t;
    }
    return best;
  }
}

/** Fisher-Yates with the seeded Rng. */
function shuffled<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** k for PCT: the decisions one random run makes (PCT's own runs make about as many). */
export function estimatePctSteps(trial: Trial, seed = 0): number {
  return Math.max(1, judge(trial(new RandomStrategy(seed))).result.choices.length);
}
