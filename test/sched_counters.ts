// Small programs shared by the strategy tests: CPUs that each add 1 to one shared word.
// The racy version (load, then store) loses an update when both load before either
// stores; the others never do.
import { type ScheduleResult, type Strategy, runScheduled } from '../src/sched/scheduler.js';
import { type Step, site } from '../src/sched/step.js';
import { add32, cas32, load32, spinLock, spinUnlock, store32 } from '../src/shm/atomic.js';
import { addrWord, create, type Machine, pfnToAddr } from '../src/shm/machine.js';

const LOAD = site('test:counter_load');
const STORE = site('test:counter_store');
const CAS = site('test:counter_cas');
const ADD = site('test:counter_add');
const LOCK = site('test:counter_lock');

export type Body = (m: Machine, w: number, times: number) => Step;

/** 2 steps per increment plus the first (to the first access): loses an update when both load first. */
export function* racyInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    const v = yield* load32(m, w, LOAD);
    yield* store32(m, w, v + 1, STORE);
  }
}

/** cmpxchg retry loop: a failed CAS retries, so no update is lost (the loop is what the bound limits). */
export function* casInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    for (;;) {
      const v = yield* load32(m, w, LOAD);
      if (yield* cas32(m, w, v, v + 1, CAS)) break;
    }
  }
}

/** One atomic add per increment: a CPU of one increment makes 2 steps. */
export function* atomicInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) yield* add32(m, w, 1, ADD);
}

/** The racy increment under a spin lock in the next word: waiting CPUs BLOCK, they do not spin. */
export function* lockedInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    yield* spinLock(m, w + 1, LOCK);
    const v = yield* load32(m, w, LOAD);
    yield* store32(m, w, v + 1, STORE);
    yield* spinUnlock(m, w + 1, LOCK);
  }
}

/** Every other increment under the lock: still loses updates, in longer schedules. */
export function* halfLockedInc(m: Machine, w: number, times: number): Step {
  for (let i = 0; i < times; i++) {
    if (i % 2 === 0) yield* spinLock(m, w + 1, LOCK);
    const v = yield* load32(m, w, LOAD);
    yield* store32(m, w, v + 1, STORE);
    if (i % 2 === 0) yield* spinUnlock(m, w + 1, LOCK);
  }
}

/** A trial: `cpus` CPUs run `inc` `times` times each on a fresh machine; failed = an update lost. */
export const counterTrial =
  (inc: Body, cpus: number, times: number) =>
  (strategy: Strategy): { failed: boolean; result: ScheduleResult; total: number } => {
    const m = create({ cpus, memory: 1 << 20 });
    const w = addrWord(m, pfnToAddr(m, 1)); // a word of page frame 1: nothing else uses it here
    const result = runScheduled(
      Array.from({ length: cpus }, () => inc(m, w, times)),
      strategy,
    );
    return { failed: result.outcome !== 'ok' || m.u32[w] !== cpus * times, result, total: m.u32[w] };
  };
