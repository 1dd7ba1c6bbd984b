import { racyInc, casInc, atomicInc, lockedInc, counterTrial, type Body } from './sched_counters.js';
import { describe, expect, it } from 'vitest';
import { type Strategy } from '../src/sched/scheduler.js';
import { estimateDfs, exploreDfs } from '../src/sched/strategies/dfs.js';
import { countPreemptions, recordReplay, recordRun, stayOrLowest } from '../src/sched/strategies/record.js';

// Small programs on one shared word (a word of page frame 1, which nothing else uses here).

/** Interleavings of CPUs of the given step counts: the multinomial (s1 + ... + sn)! / (s1! ... sn!). */
function interleavings(steps: number[]): number {
  let total = 0;
  let count = 1;
  for (const s of steps) for (let i = 1; i <= s; i++) count = (count * ++total) / i;
  return count;
}

/** The executions of a search that does not stop at a failure: the same trial, never failing. */
const neverFails = (inc: Body, cpus: number, times: number) => (strategy: Strategy) => ({
  failed: false,
  result: counterTrial(inc, cpus, times)(strategy).result,
});

describe('bounded DFS (preemption bounding)', () => {
  it('bound 0 runs exactly the non-preemptive schedules: 2 for 2 CPUs of 2 steps', () => {
    const r = exploreDfs(counterTrial(atomicInc, 2, 1), { preemptionBound: 0 });
    expect(r).toEqual({ executions: 2, exhausted: true, estimate: 2 });
    // 3 CPUs: one order per permutation
    expect(exploreDfs(counterTrial(atomicInc, 3, 1), { preemptionBound: 0 }).executions).toBe(6);
  });

  it('bound 0 misses the lost update, bound 1 finds it with one preemption', () => {
    expect(exploreDfs(counterTrial(racyInc, 2, 1), { preemptionBound: 0 })).toMatchObject({ executions: 2, exhausted: true });
    const trial = counterTrial(racyInc, 2, 2);
    const r = exploreDfs(trial, { preemptionBound: 1 });
    expect(r.exhausted).toBe(false);
    expect(r.failure?.preemptions).toBe(1);
    // the reported schedule replays exactly to the same failure
    const replay = recordReplay(r.failure?.choices ?? [], trial);
    expect(replay.failed).toBe(true);
    expect(countPreemptions(replay.decisions)).toBe(1);
  });

  it('exhausts the cmpxchg counter without a failure, for bounds 0 to 3', () => {
    let previous = 0;
    for (let bound = 0; bound <= 3; bound++) {
      const r = exploreDfs(counterTrial(casInc, 2, 2), { preemptionBound: bound });
      expect(r.exhausted).toBe(true);
      expect(r.failure).toBeUndefined();
      expect(r.executions).toBeGreaterThan(previous); // each bound adds schedules
      previous = r.executions;
    }
  });

  it('3 CPUs: the cmpxchg counter is clean with bound 2, the racy one fails with bound 1', () => {
    const clean = exploreDfs(counterTrial(casInc, 3, 1), { preemptionBound: 2 });
    expect(clean.exhausted && clean.failure === undefined).toBe(true);
    expect(exploreDfs(counterTrial(racyInc, 3, 1), { preemptionBound: 1 }).failure?.preemptions).toBe(1);
  });

  it('unbounded, it runs every interleaving exactly once', () => {
    for (const [inc, cpus, times, stepsPerCpu] of [
      [atomicInc, 2, 1, 2],
      [racyInc, 2, 1, 3],
      [racyInc, 2, 2, 5],
      [racyInc, 3, 1, 3],
    ] as const) {
      const seen = new Set<string>();
      const trial = (strategy: Strategy) => {
        const v = neverFails(inc, cpus, times)(strategy);
        seen.add(v.result.choices.join());
        return v;
      };
      const r = exploreDfs(trial, { preemptionBound: Infinity });
      expect(r.exhausted).toBe(true);
      expect(r.executions).toBe(interleavings(new Array(cpus).fill(stepsPerCpu)));
      expect(seen.size).toBe(r.executions); // distinct schedules
    }
  });

  it('a lock waiter is not runnable: the locked counter is clean and its search stays small', () => {
    const r = exploreDfs(counterTrial(lockedInc, 2, 2), { preemptionBound: 2 });
    expect(r.exhausted && r.failure === undefined).toBe(true);
    expect(r.executions).toBeLessThan(1000);
  });

  it('stops at maxExecutions without claiming the space was exhausted', () => {
    const r = exploreDfs(neverFails(racyInc, 2, 3), { preemptionBound: 2, maxExecutions: 5 });
    expect(r).toMatchObject({ executions: 5, exhausted: false });
    expect(r.failure).toBeUndefined();
  });

  it('estimates the executions before the search, within a small factor', () => {
    const cases = [
      [atomicInc, 2, 1],
      [racyInc, 2, 1],
      [racyInc, 2, 3],
      [casInc, 2, 2],
      [racyInc, 3, 1],
      [lockedInc, 2, 2],
    ] as const;
    for (const [inc, cpus, times] of cases) {
      for (let bound = 0; bound <= 2; bound++) {
        let printed = -1;
        const r = exploreDfs(neverFails(inc, cpus, times), { preemptionBound: bound, onEstimate: (e) => (printed = e) });
        expect(printed).toBe(r.estimate);
        const ratio = r.estimate / r.executions;
        expect(ratio, `${inc.name} ${cpus}x${times} bound ${bound}: ${r.estimate} vs ${r.executions}`).toBeGreaterThanOrEqual(
          1 / 4,
        );
        expect(ratio).toBeLessThanOrEqual(4);
      }
    }
  });

  it('estimateDfs is exact for bound 1 with 2 CPUs that do not block', () => {
    const trial = neverFails(racyInc, 2, 3);
    const first = recordRun(trial, { name: 'no-preemption', pick: stayOrLowest });
    expect(estimateDfs(first.decisions, 0)).toBe(2);
    expect(estimateDfs(first.decisions, 1)).toBe(exploreDfs(trial, { preemptionBound: 1 }).executions);
  });

  it('a trial that is not deterministic is reported, not searched', () => {
    let run = 0;
    const flaky = (strategy: Strategy) => counterTrial(casInc, 2 + (run++ % 2), 1)(strategy);
    expect(() => exploreDfs(flaky, { preemptionBound: 2 })).toThrow(/not deterministic/);
  });
});
