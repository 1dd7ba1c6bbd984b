// What the race explorer (DFS, shrinker) needs beyond a ScheduleResult. Whether a choice
// is a preemption depends on the runnable set and on who moved last, and a result keeps
// neither: a wrapper strategy records them at every decision. Terms follow preemption
// bounding (Musuvathi & Qadeer, "Iterative context bounding", PLDI 2007).
import type { ScheduleResult, Strategy } from '../scheduler.js';
import { ReplayStrategy } from './replay.js';

/** One decision point of a run: who could move, who moved last, who was chosen. */
export interface Decision {
  readonly runnable: readonly number[];
  readonly last: number;
  readonly choice: number;
}

/** Moving another CPU while the one that just moved could go on. */
export const isPreemption = (runnable: readonly number[], last: number, choice: number): boolean =>
  last >= 0 && choice !== last && runnable.includes(last);

export const countPreemptions = (decisions: readonly Decision[]): number =>
  decisions.filter((d) => isPreemption(d.runnable, d.last, d.choice)).length;

/** Context switches of any kind, also the free ones after `last` blocked or finished. */
export const countSwitches = (decisions: readonly Decision[]): number =>
  decisions.filter((d) => d.last >= 0 && d.choice !== d.last).length;

/** The choice that never adds a preemption: stay on `last` if it can move, else the lowest runnable CPU. */
export const stayOrLowest = (runnable: readonly number[], last: number): number => (runnable.includes(last) ? last : runnable[0]);

/** Passes every pick to `inner` and records the decision (the scheduler reuses its runnable array: copy). */
export class RecordingStrategy implements Strategy {
  readonly decisions: Decision[] = [];
  constructor(private readonly inner: Strategy) {}
  get name(): string {
    return this.inner.name;
  }
  pick(runnable: readonly number[], last: number, step: number): number {
    const choice = this.inner.pick(runnable, last, step);
    this.decisions.push({ runnable: runnable.slice(), last, choice });
    return choice;
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
