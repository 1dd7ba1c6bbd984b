// Schedule shrinking: turn a long failing schedule into a short one with few preemptions,
// which is what a reader can follow. Preemptions go first, in the spirit of Tinertia
// (Jalbert & Sen, "A trace simplification technique for effective debugging of
// concurrent programs", FSE 2010: remove context switches, merge runs of one thread),
// then length, by delta debugging over the choice list (Zeller & Hildebrandt's ddmin;
// Choi & Zeller, "Isolating failure-inducing thread schedules", ISSTA 2002).
//
// Candidates are replayed leniently, so an edit does not have to be a valid schedule: a
// choice that cannot move, and every decision past the list, falls back to the choice
// that adds no preemption. What a candidate is worth is the run it actually made: its
// recorded choices (which replay exactly) and preemptions.
//
// Edits of one schedule can get stuck above the fewest preemptions the failure needs (a
// race that needs three well-placed preemptions is rarely reached by removing one at a
// time from thirty). So the last pass is a search: a preemption-bounded DFS at bounds
// 0, 1, 2, ... below the preemptions of the best schedule so far, within what is left of
// the budget. The first bound with a failing run gives the fewest preemptions (every
// smaller bound was searched whole), and the edits then shorten that run.
import { SlabError } from '../errors.js';
import { tokenAction, tokenRead } from './schedule.js';
import type { RunView, ScheduleResult, Strategy } from './scheduler.js';
import { exploreDfs } from './strategies/dfs.js';
import {
  countPreemptions,
  countSwitches,
  type Decision,
  isPreemption,
  recordRun,
  stayOrLowest,
  type Trial,
} from './strategies/record.js';

/**
 * Replays `choices` (tokens) where it can; otherwise stays on `last` if runnable, else the
 * lowest runnable CPU. A read choice out of range reads the oldest readable value; a load
 * with several values in a step nobody chose takes the next token if it is a step of
 * that CPU, else reads the newest.
 */
export class LenientReplayStrategy implements Strategy {
  readonly name = 'lenient-replay';
  private i = 0;
  private cpus = Infinity;
  private read = 0;
  constructor(private readonly choices: readonly number[]) {}
  begin(run: RunView): void {
    this.cpus = run.cpus;
  }
  pick(runnable: readonly number[], last: number): number {
    const t = this.choices[this.i++];
    this.read = 0;
    if (t === undefined) return stayOrLowest(runnable, last);
    const c = tokenAction(t, this.cpus);
    if (!runnable.includes(c)) return stayOrLowest(runnable, last);
    this.read = tokenRead(t, this.cpus);
    return c;
  }
  pickRead(cpu: number, k: number, picked: boolean): number {
    if (picked) return Math.min(this.read, k - 1);
    const t = this.choices[this.i];
    if (t === undefined || tokenAction(t, this.cpus) !== cpu) return 0;
    this.i++;
    return Math.min(tokenRead(t, this.cpus), k - 1);
  }
}

export interface ShrinkOptions {
  /** give up improving after this many runs of the trial (default DEFAULT_SHRINK_TRIALS) */
  maxTrials?: number;
}

export const DEFAULT_SHRINK_TRIALS = 5000;

export interface ShrinkResult {
  /** the choices the last failing run made: replay exactly with ReplayStrategy */
  choices: number[];
  result: ScheduleResult;
  preemptions: number;
  /** runs of the trial spent, the first (the input itself) included */
  trials: number;
  original: { length: number; preemptions: number };
}

/** A failing run, ranked by (preemptions, length, switches). */
interface Candidate {
  choices: number[];
  decisions: Decision[];
  result: ScheduleResult;
  preemptions: number;
  switches: number;
}

/**
 * Shrink a failing schedule of `trial`. The result never has more preemptions than the
 * input's run, is never longer unless it has fewer, and still fails (as `trial` judges
 * it). `choices` should be a whole recorded schedule; the input's run is the baseline.
 */
export function shrinkSchedule(choices: readonly number[], trial: Trial, opts: ShrinkOptions = {}): ShrinkResult {
  const s = new Shrinker(trial, opts.maxTrials ?? DEFAULT_SHRINK_TRIALS);
  const first = s.run(choices);
  if (first === undefined) throw new SlabError('EINVAL', 'shrink: the schedule given does not fail');
  s.best = first;
  while (s.round());
  if (s.searchFewerPreemptions()) while (s.round());
  const best = s.best;
  return {
    choices: best.choices,
    result: best.result,
    preemptions: best.preemptions,
    trials: s.trials,
    original: { length: first.choices.length, preemptions: first.preemptions },
  };
}

class Shrinker {
  best!: Candidate;
  trials = 0;
  constructor(
    private readonly trial: Trial,
    private readonly maxTrials: number,
  ) {}

  /** One candidate run: the candidate if it fails, else undefined. */
  run(choices: readonly number[]): Candidate | undefined {
    this.trials++;
    const r = recordRun(this.trial, new LenientReplayStrategy(choices));
    if (!r.failed) return undefined;
    const { decisions, result } = r;
    return {
      choices: result.choices,
      decisions,
      result,
      preemptions: countPreemptions(decisions),
      switches: countSwitches(decisions),
    };
  }

  /** Take `choices` if its run fails and is simpler; false when not taken. */
  try(choices: readonly number[]): boolean {
    if (this.trials >= this.maxTrials) return false;
    const c = this.run(choices);
    if (c === undefined || !simpler(c, this.best)) return false;
    this.best = c;
    return true;
  }

  /** One round of every pass; true when something was taken (run another). */
  round(): boolean {
    return this.truncate() || this.removePreemptions() || this.ddmin();
  }

  /** Cut the list at a switch, so that the rest of the run never preempts; shortest cut first. */
  private truncate(): boolean {
    const ds = this.best.decisions;
    const cuts = [0, ...ds.flatMap((d, i) => (d.last >= 0 && d.choice !== d.last ? [i] : []))];
    return cuts.some((i) => this.try(this.best.choices.slice(0, i)));
  }

  /**
   * For each preemption, the run of decisions it starts (a block of one CPU): give the
   * block to the preempted CPU (merge it into the run before), drop it, or defer its
   * first decision by one (stay on `last` once).
   */
  private removePreemptions(): boolean {
    const { choices, decisions } = this.best;
    for (let i = 0; i < decisions.length; i++) {
      const d = decisions[i];
      if (!isPreemption(d.runnable, d.last, d.choice)) continue;
      let j = i + 1;
      while (j < choices.length && choices[j] === d.choice) j++;
      const merged = [...choices.slice(0, i), ...new Array<number>(j - i).fill(d.last), ...choices.slice(j)];
      const dropped = [...choices.slice(0, i), ...choices.slice(j)];
      const deferred = choices.slice();
      deferred[i] = d.last;
      if (this.try(merged) || this.try(dropped) || this.try(deferred)) return true;
    }
    return false;
  }

  /**
   * A bounded DFS at each bound below the best schedule's preemptions, smallest first,
   * until one fails (take its run) or the budget ends a search before it is whole.
   */
  searchFewerPreemptions(): boolean {
    for (let bound = 0; bound < this.best.preemptions; bound++) {
      const left = this.maxTrials - this.trials;
      if (left <= 0) return false;
      const dfs = exploreDfs(this.trial, { preemptionBound: bound, maxExecutions: left });
      this.trials += dfs.executions;
      if (dfs.failure) {
        // Fewer preemptions win even over a shorter schedule.
        const found = this.run(dfs.failure.choices);
        if (found === undefined || found.preemptions >= this.best.preemptions) return false;
        this.best = found;
        return true;
      }
      if (!dfs.exhausted) return false;
    }
    return false;
  }

  /** Remove chunks of the list, halving the chunk size down to one choice. */
  private ddmin(): boolean {
    const choices = this.best.choices;
    for (let size = choices.length >> 1; size >= 1; size >>= 1) {
      for (let at = 0; at + size <= choices.length; at += size) {
        if (this.try([...choices.slice(0, at), ...choices.slice(at + size)])) return true;
      }
    }
    return false;
  }
}

/**
 * Not worse in preemptions or length, and better in (preemptions, length, switches)
 * taken in that order. The order is well founded, so shrinking ends.
 */
function simpler(a: Candidate, b: Candidate): boolean {
  if (a.preemptions > b.preemptions || a.choices.length > b.choices.length) return false;
  if (a.preemptions !== b.preemptions) return true;
  if (a.choices.length !== b.choices.length) return true;
  return a.switches < b.switches;
}
