// The deterministic scheduler: runs one generator per simulated CPU on this thread and
// lets a strategy pick, at every schedule point, which CPU moves next.
import { schedBus } from '../shm/atomic.js';
import { BLOCK, type Step, siteName } from './step.js';

/** A seeded, self-contained policy for choosing the next CPU. */
export interface Strategy {
  readonly name: string;
  /**
   * Choose one of `runnable` (ascending CPU ids, two or more). `last` is the CPU that made
   * the previous step (-1 before the first): choosing another while `last` is runnable
   * is a preemption. `step` is the number of steps made so far.
   */
  pick(runnable: readonly number[], last: number, step: number): number;
}

export interface ScheduleOptions {
  /** Give up (outcome 'budget') after this many steps; a guard against livelock. */
  maxSteps?: number;
  /** Cheap invariant checks after every step; throw to fail the run. */
  afterStep?: (cpu: number) => void;
  /** Record (cpu, site) of every step. */
  trace?: boolean;
}

export type Outcome = 'ok' | 'deadlock' | 'budget' | 'error';

export interface ScheduleResult {
  outcome: Outcome;
  steps: number;
  /** the strategy's choice at each decision point, in order */
  choices: number[];
  /** what each CPU's program returned (undefined if it did not finish) */
  results: unknown[];
  error?: unknown;
  message?: string;
  /** per step: cpu and site name, when `trace` was asked for */
  trace?: TraceStep[];
}

/** One step: who moved, where it stopped next, and whether it stopped blocked. */
export interface TraceStep {
  cpu: number;
  site: string;
  blocked?: true;
}

/** Run `programs` (CPU i runs programs[i]) to completion under `strategy`. */
export function runScheduled(programs: Step<unknown>[], strategy: Strategy, opts: ScheduleOptions = {}): ScheduleResult {
  const n = programs.length;
  const maxSteps = opts.maxSteps ?? 10_000_000;
  const done = new Array<boolean>(n).fill(false);
  /** word each CPU is blocked on, or -1; and a second word that also wakes it */
  const blocked = new Array<number>(n).fill(-1);
  const alsoWake = new Array<number>(n).fill(-1);
  const results = new Array<unknown>(n);
  const choices: number[] = [];
  const trace = opts.trace ? ([] as TraceStep[]) : undefined;
  const runnable: number[] = [];
  let steps = 0;
  let last = -1;
  const finish = (outcome: Outcome, extra: Partial<ScheduleResult> = {}): ScheduleResult => ({
    outcome,
    steps,
    choices,
    results,
    trace,
    ...extra,
  });

  for (;;) {
    runnable.length = 0;
    let live = 0;
    for (let c = 0; c < n; c++) {
      if (done[c]) continue;
      live++;
      if (blocked[c] < 0) runnable.push(c);
    }
    if (live === 0) return finish('ok');
    if (runnable.length === 0) {
      const who = blocked.map((w, c) => (w >= 0 ? `CPU${c} on word ${w}` : '')).filter(Boolean);
      return finish('deadlock', { message: `deadlock: every live CPU is blocked (${who.join(', ')})` });
    }
    if (steps >= maxSteps) return finish('budget', { message: `step budget of ${maxSteps} exhausted (livelock?)` });
    let cpu = runnable[0];
    if (runnable.length > 1) {
      cpu = strategy.pick(runnable, last, steps);
      choices.push(cpu);
    }
    schedBus.written.length = 0;
    schedBus.blockedOn = -1;
    schedBus.alsoWakeOn = -1;
    let r: IteratorResult<number, unknown>;
    try {
      r = programs[cpu].next();
    } catch (error) {
      return finish('error', { error, message: `CPU${cpu}: ${(error as Error).message}` });
    }
    steps++;
    last = cpu;
    if (r.done) {
      done[cpu] = true;
      results[cpu] = r.value;
      trace?.push({ cpu, site: '(finished)' });
    } else {
      if (r.value & BLOCK) {
        blocked[cpu] = schedBus.blockedOn;
        alsoWake[cpu] = schedBus.alsoWakeOn;
        trace?.push({ cpu, site: siteName(r.value), blocked: true });
      } else {
        trace?.push({ cpu, site: siteName(r.value) });
      }
    }
    for (const w of schedBus.written) {
      for (let c = 0; c < n; c++) {
        if (blocked[c] >= 0 && (blocked[c] === w || alsoWake[c] === w)) {
          blocked[c] = -1;
          alsoWake[c] = -1;
        }
      }
    }
    if (opts.afterStep) {
      try {
        opts.afterStep(cpu);
      } catch (error) {
        return finish('error', { error, message: `after a step of CPU${cpu}: ${(error as Error).message}` });
      }
    }
  }
}
