import { racyInc, casInc, counterTrial } from './sched_counters.js';
import { describe, expect, it } from 'vitest';
import { estimatePctSteps, PctStrategy } from '../src/sched/strategies/pct.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';

// Two CPUs each add 1 to one shared word `times` times. The racy version (load, then
// store) loses an update when both load before either stores; the cmpxchg retry never does.

/** The first of `runs` PCT runs (seed = run index) that fails, or -1. */
function firstFailing(trial: ReturnType<typeof counterTrial>, depth: number, runs: number, cpus = 2): number {
  const steps = estimatePctSteps(trial);
  for (let seed = 0; seed < runs; seed++) if (trial(new PctStrategy(seed, { cpus, depth, steps })).failed) return seed;
  return -1;
}

describe('PCT (probabilistic concurrency testing)', () => {
  it('depth 2 finds the lost update of a racy counter within a few hundred runs', () => {
    const trial = counterTrial(racyInc, 2, 3);
    const steps = estimatePctSteps(trial);
    const failed = Array.from({ length: 300 }, (_, seed) => trial(new PctStrategy(seed, { cpus: 2, depth: 2, steps })).failed);
    expect(failed.indexOf(true)).toBeGreaterThanOrEqual(0);
    // as often as the paper promises at least: 1/(n k^(d-1)) = 1/(2k) per run
    expect(failed.filter(Boolean).length).toBeGreaterThanOrEqual(300 / (2 * steps));
  });

  it('depth 1 never preempts, so it never loses an update', () => {
    expect(firstFailing(counterTrial(racyInc, 2, 3), 1, 100)).toBe(-1);
  });

  it('with 3 CPUs, depth 2 and 3 find it too', () => {
    expect(firstFailing(counterTrial(racyInc, 3, 2), 2, 300, 3)).toBeGreaterThanOrEqual(0);
    expect(firstFailing(counterTrial(racyInc, 3, 2), 3, 300, 3)).toBeGreaterThanOrEqual(0);
  });

  it('never fails on the cmpxchg retry counter', () => {
    expect(firstFailing(counterTrial(casInc, 2, 3), 2, 200)).toBe(-1);
    expect(firstFailing(counterTrial(casInc, 2, 3), 3, 200)).toBe(-1);
  });

  it('is deterministic for a seed, and seeds differ', () => {
    const trial = counterTrial(racyInc, 2, 4);
    const run = (seed: number) => trial(new PctStrategy(seed, { cpus: 2, depth: 3, steps: 12 }));
    const a = run(42);
    const b = run(42);
    expect(b.result.choices).toEqual(a.result.choices);
    expect(b.total).toBe(a.total);
    expect(new PctStrategy(42, { cpus: 2, depth: 3, steps: 12 }).changePoints).toEqual(
      new PctStrategy(42, { cpus: 2, depth: 3, steps: 12 }).changePoints,
    );
    const schedules = new Set(Array.from({ length: 20 }, (_, s) => run(s).result.choices.join()));
    expect(schedules.size).toBeGreaterThan(3);
  });

  it('a failing PCT run replays exactly', () => {
    const trial = counterTrial(racyInc, 2, 3);
    const seed = firstFailing(trial, 2, 300);
    const a = trial(new PctStrategy(seed, { cpus: 2, depth: 2, steps: estimatePctSteps(trial) }));
    const b = trial(new ReplayStrategy(a.result.choices));
    expect(b.failed).toBe(true);
    expect(b.total).toBe(a.total);
  });

  it('draws d - 1 distinct change points within 1..k, lowering to priorities 1..d-1', () => {
    for (let seed = 0; seed < 50; seed++) {
      const points = new PctStrategy(seed, { cpus: 4, depth: 4, steps: 10 }).changePoints;
      expect(points).toHaveLength(3);
      expect(new Set(points.map((p) => p[0])).size).toBe(3);
      expect(points.every(([k]) => k >= 1 && k <= 10)).toBe(true);
      expect(points.map((p) => p[1]).sort()).toEqual([1, 2, 3]);
    }
    // k smaller than d - 1: every decision is a change point
    expect(new PctStrategy(1, { cpus: 2, depth: 5, steps: 2 }).changePoints.map((p) => p[0])).toEqual([1, 2]);
  });
});
