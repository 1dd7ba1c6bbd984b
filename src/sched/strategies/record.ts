// What the race explorer (DFS, shrinker) needs beyond a ScheduleResult. Whether a choice
// is a preemption depends on the runnable set and on who moved last, and a result keeps
// neither: a wrapper strategy records them at every decision. Terms follow preemption
// bounding (Musuvathi & Qadeer, "Iterative context bounding", PLDI 2007).
//
// In the weaker memory modes a decision may also carry a read choice (the chosen step's
// load had several readable values), and a step nobody chose (the only action) whose load
// had several makes a decision of its own: one decision per token of the schedule
// (src/sched/schedule.ts), so decisions[i] is the decision of choices[i]. A flush chosen
// while the CPU that moved last could go on is a preemption, as a switch to another CPU
// is (the store buffer is one more thread, as in Nidhugg), and so is a load reading an
// older value than the newest: a bounded search then delays flushes and stale reads as
// it delays switches (each a step away from the run that would go on by itself), and
// shrinking keeps stores in their buffers longest and reads stale values least.
import type { RunView, ScheduleResult, StepEvent, Strategy } from '../scheduler.js';
import { ReplayStrategy } from './replay.js';

/** One decision point of a run: who could move, who moved last, who was chosen. */
export interface Decision {
  /** the actions that could be chosen (a read of a step nobody chose: that CPU alone) */
  readonly runnable: readonly number[];
  readonly last: number;
  readonly choice: number;
  /** weaker memory modes: the readable values of the chosen step's load, when more than one */
  readonly reads?: number;
  /** which of them it read (0: the newest) */
  readonly read?: number;
}

/** Moving another CPU, or flushing a store buffer, while the CPU that just moved could go on. */
export const isPreemption = (runnable: readonly number[], last: number, choice: number): boolean =>
  last >= 0 && choice !== last && runnable.includes(last);

/** What decision `d` adds to the preemptions: a switch or flush while `last` could go on, a stale read. */
export const preemptionsOf = (d: Decision): number =>
  (isPreemption(d.runnable, d.last, d.choice) ? 1 : 0) + ((d.read ?? 0) > 0 ? 1 : 0);

export const countPreemptions = (decisions: readonly Decision[]): number => decisions.reduce((n, d) => n + preemptionsOf(d), 0);

/** Context switches of any kind, also the free ones after `last` blocked or finished. */
export const countSwitches = (decisions: readonly Decision[]): number =>
  decisions.filter((d) => d.last >= 0 && d.choice !== d.last).length;

/** The choice that never adds a preemption: stay on `last` if it can move, else the lowest runnable CPU. */
export const stayOrLowest = (runnable: readonly number[], last: number): number => (runnable.includes(last) ? last : runnable[0]);

/** Passes every pick to `inner` and records the decision (the scheduler reuses its runnable array: copy). */
export class RecordingStrategy implements Strategy {
  readonly decisions: Decision[] = [];
  onStep?: (step: StepEvent) => void;
  constructor(private readonly inner: Strategy) {
    if (inner.onStep) this.onStep = (e) => inner.onStep?.(e);
  }
  get name(): string {
    return this.inner.name;
  }
  begin(run: RunView): void {
    this.inner.begin?.(run);
  }
  pick(runnable: readonly number[], last: number, step: number): number {
    const choice = this.inner.pick(runnable, last, step);
    this.decisions.push({ runnable: runnable.slice(), last, choice });
    return choice;
  }
  pickRead(cpu: number, k: number, picked: boolean): number {
    const read = Math.max(0, Math.min(k - 1, this.inner.pickRead?.(cpu, k, picked) ?? 0));
    if (picked) {
      const d = this.decisions[this.decisions.length - 1];
      this.decisions[this.decisions.length - 1] = { ...d, reads: k, read };
    } else this.decisions.push({ runnable: [cpu], last: -1, choice: cpu, reads: k, read });
    return read;
  }
}

/** A trial's judgement of one run. */
export interface Verdict {
  failed: boolean;
  result: ScheduleResult;
}

/**
 * Runs the program from scratch (fresh machine, fresh generators) under `strategy`. A bare
 * result fails when its outcome is not 'ok'; a verdict carries the trial's own check
 * (a lost update, a broken invariant found after the run).
 */
export type Trial = (strategy: Strategy) => ScheduleResult | Verdict;

export function judge(r: ScheduleResult | Verdict): Verdict {
  return 'failed' in r ? r : { failed: r.outcome !== 'ok', result: r };
}

/** Run `trial` under `strategy`, recording its decisions. */
export function recordRun(trial: Trial, strategy: Strategy): Verdict & { decisions: Decision[] } {
  const rec = new RecordingStrategy(strategy);
  return { ...judge(trial(rec)), decisions: rec.decisions };
}

/** Replay `choices` exactly (strict ReplayStrategy) and record the decisions, e.g. to count preemptions. */
export const recordReplay = (choices: readonly number[], trial: Trial): Verdict & { decisions: Decision[] } =>
  recordRun(trial, new ReplayStrategy(choices));
