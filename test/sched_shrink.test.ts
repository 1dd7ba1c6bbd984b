import { describe, expect, it } from 'vitest';
import { runScheduled, type Strategy } from '../src/sched/scheduler.js';
import { LenientReplayStrategy, shrinkSchedule } from '../src/sched/shrink.js';
import { site, type Step } from '../src/sched/step.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { countPreemptions, recordReplay } from '../src/sched/strategies/record.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import { load32, spinLock, spinUnlock, store32 } from '../src/shm/atomic.js';
import { create, type Machine } from '../src/shm/machine.js';

// CPUs add 1 to one shared word `times` times each: the racy version (load, then store)
// loses an update when another CPU stores between a load and its store.
const LOAD = site('test:counter_load');
const STORE = site('test:counter_store');
const LOCK = site('test:counter_lock');

function* racyInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    const v = yield* load32(m, w, LOAD);
    yield* store32(m, w, v + 1, STORE);
  }
}

/** Every other increment under a lock (the next word): the race survives in the unlocked ones. */
function* halfLockedInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    if (i % 2 === 0) yield* spinLock(m, w + 1, LOCK);
    const v = yield* load32(m, w, LOAD);
    yield* store32(m, w, v + 1, STORE);
    if (i % 2 === 0) yield* spinUnlock(m, w + 1, LOCK);
  }
}

const counterTrial = (inc: typeof racyInc, cpus: number, times: number) => (strategy: Strategy) => {
  const m = create({ cpus, memory: 1 << 20 });
  const w = m.memBase + m.cfg.pageSize / 4; // a word of page frame 1: nothing else uses it here
  const result = runScheduled(
    Array.from({ length: cpus }, () => inc(m, w, times)),
    strategy,
  );
  return { failed: result.outcome !== 'ok' || m.u32[w] !== cpus * times, result, total: m.u32[w] };
};

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
