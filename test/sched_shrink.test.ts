import { racyInc, halfLockedInc, counterTrial } from './sched_counters.js';
import { describe, expect, it } from 'vitest';
import { LenientReplayStrategy, shrinkSchedule } from '../src/sched/shrink.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { countPreemptions, recordReplay } from '../src/sched/strategies/record.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import { explore, replay } from '../src/index.js';
import { chaseLev } from './models/deque.js';

// CPUs add 1 to one shared word `times` times each: the racy version (load, then store)
// loses an update when another CPU stores between a load and its store.

/** A failing random schedule with at least `minPreemptions` preemptions. */
function longFailing(trial: ReturnType<typeof counterTrial>, minPreemptions: number): number[] {
  for (let seed = 0; seed < 1000; seed++) {
    const r = trial(new RandomStrategy(seed));
    if (r.failed && countPreemptions(recordReplay(r.result.choices, trial).decisions) >= minPreemptions) return r.result.choices;
  }
  throw new Error('no long failing schedule among 1000 seeds');
}

describe('schedule shrinking', () => {
  it.each([
    ['2 CPUs', racyInc, 2, 8],
    ['3 CPUs', racyInc, 3, 5],
    ['2 CPUs, half of the increments locked', halfLockedInc, 2, 8],
  ] as const)('a long failing random schedule of the racy counter (%s) shrinks to one preemption', (_, inc, cpus, times) => {
    const trial = counterTrial(inc, cpus, times);
    const original = longFailing(trial, 8);
    const s = shrinkSchedule(original, trial);
    // one preemption is the minimum: without any, every increment runs alone
    expect(s.preemptions).toBe(1);
    expect(s.choices.length).toBeLessThanOrEqual(original.length);
    expect(s.original).toEqual({ length: original.length, preemptions: expect.any(Number) });
    expect(s.original.preemptions).toBeGreaterThanOrEqual(8);
    // the shrunk schedule replays exactly (strict replay) to the same failure
    const replay = new ReplayStrategy(s.choices);
    const again = trial(replay);
    expect(again.failed).toBe(true);
    expect(replay.finished).toBe(true);
    expect(again.result.choices).toEqual(s.choices);
    expect(countPreemptions(recordReplay(s.choices, trial).decisions)).toBe(1);
  });

  it('is deterministic: the same input shrinks to the same schedule', () => {
    const trial = counterTrial(racyInc, 2, 6);
    const original = longFailing(trial, 4);
    expect(shrinkSchedule(original, trial).choices).toEqual(shrinkSchedule(original, trial).choices);
  });

  it('keeps to its trial budget and still returns a failing schedule no worse than the input', () => {
    const trial = counterTrial(racyInc, 2, 8);
    const original = longFailing(trial, 8);
    const s = shrinkSchedule(original, trial, { maxTrials: 5 });
    expect(s.trials).toBeLessThanOrEqual(5);
    expect(s.choices.length).toBeLessThanOrEqual(original.length);
    expect(s.preemptions).toBeLessThanOrEqual(s.original.preemptions);
    expect(trial(new ReplayStrategy(s.choices)).failed).toBe(true);
  });

  it('refuses a schedule that does not fail', () => {
    const trial = counterTrial(racyInc, 2, 2);
    expect(() => shrinkSchedule([0, 0, 0, 0, 0], trial)).toThrow(/does not fail/);
  });

  it('lenient replay: a choice that cannot move, or past the list, stays on the last CPU', () => {
    const trial = counterTrial(racyInc, 2, 1);
    // 0 moves, then the list says 1 (kept), then 5 (no such CPU: stay on 1), then nothing (stay on 1)
    const r = trial(new LenientReplayStrategy([0, 1, 5]));
    expect(r.result.choices).toEqual([0, 1, 1, 1]);
    expect(r.failed).toBe(false);
  });
});

describe('shrinking to the fewest preemptions', () => {
  // A Chase-Lev deque whose owner takes the last task without the CAS on `top`: a thief
  // must read `top` and `bottom` before the owner's decrement, and CAS between the
  // owner's read of `top` and its store. That takes three preemptions, and edits of a
  // random schedule with thirteen get stuck far above that.
  const model = chaseLev({ noLastCas: true, tasks: 3 });

  it('needs three preemptions: a bounded search at two finds nothing', async () => {
    const r = await explore(model, { strategy: 'dfs', preemptionBound: 2, runs: 100_000 });
    expect(r.models[0]).toMatchObject({ exhausted: true });
    expect(r.models[0].failure).toBeUndefined();
  });

  it('a random run with many more preemptions shrinks to three, and replays', async () => {
    const r = await explore(model, { strategy: 'random', runs: 1000, seed: 1 });
    const f = r.models[0].failure;
    expect(f?.preemptions.before).toBeGreaterThan(6);
    expect(f?.preemptions.after).toBe(3);
    const again = replay(model, f?.shrunk ?? '');
    expect(again.failed).toBe(true);
    expect(again.messages[0]).toMatch(/^CPU\d: task \d taken twice$/);
  });

  it('the correct deque holds', async () => {
    const r = await explore(chaseLev({ tasks: 3 }), { strategy: 'dfs', preemptionBound: 2, runs: 100_000 });
    expect(r.models[0]).toMatchObject({ exhausted: true });
    expect(r.models[0].failure).toBeUndefined();
  });
});
