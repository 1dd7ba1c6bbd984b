// `slabsim stress`: a model's threads truly in parallel, one worker thread per simulated
// CPU, round after round, with its final check after every round. This is the protocol
// each worker follows; src/cli/stress.ts starts the workers and watches them.
//
// A model's create() builds JS state (its instance) besides simulated memory, and a
// worker cannot share JS state with another thread. So every worker builds an instance
// of its own with the same create(), from the same starting state, in turn: worker k
// restores the machine's starting image, runs create(), and passes the turn on. create()
// is deterministic (the model's contract), so every worker's instance names the same
// words, and the machine ends in the state one create() leaves. Then all run their
// thread at once, wait for each other, and each runs the final check on its instance
// (which sees shared memory and what its own thread recorded).
//
// Control words (Int32Array `ctl`), each changed with Atomics and waited on:
//   TURN      whose create() is next; == cpus: all set up, threads may start
//   ARRIVED   threads finished this round
//   CHECKED   final checks finished this round
//   ROUND     rounds begun; the last checker advances it (or sets STOPPED)
//   STOP      set by the main thread: end after the current round
//   FAILED    rounds in which some final check failed
//   ROUND_BAD checks that failed in the current round
//   ERROR     a worker hit a bug of the model (its message comes with its result)
//   READY     workers that have loaded the model (the clock starts when all have)
import { ModelError, isFinding } from '../errors.js';
import { makeCpu } from '../mm/cpu.js';
import { type Machine, type MachineImage, restore } from '../shm/machine.js';
import type { Profile } from '../config.js';
import type { Model } from './model.js';

export const CTL = {
  TURN: 0,
  ARRIVED: 1,
  CHECKED: 2,
  ROUND: 3,
  STOP: 4,
  FAILED: 5,
  ROUND_BAD: 6,
  ERROR: 7,
  READY: 8,
  WORDS: 9,
} as const;
/** ROUND's value once the workers have stopped. */
export const STOPPED = -1;

export interface StressRoundTask {
  /** this worker's CPU */
  cpu: number;
  cpus: number;
  /** stop after this many rounds (0: only when STOP is set) */
  rounds: number;
  seed: number;
  profile: Profile;
}

export interface StressSample {
  round: number;
  cpu: number;
  messages: string[];
}

export interface StressWorkerResult {
  cpu: number;
  rounds: number;
  /** the first failing rounds this worker saw (at most MAX_SAMPLES) */
  samples: StressSample[];
  /** a bug of the model, in one line */
  error?: string;
  threadMs: number;
}

const MAX_SAMPLES = 5;
const WAIT_MS = 200;

/** Wait until ctl[i] satisfies `ok` or an error is flagged; false on an error. */
function waitFor(ctl: Int32Array, i: number, ok: (v: number) => boolean): boolean {
  for (;;) {
    const v = Atomics.load(ctl, i);
    if (ok(v)) return true;
    if (Atomics.load(ctl, CTL.ERROR) !== 0) return false;
    Atomics.wait(ctl, i, v, WAIT_MS);
  }
}

function set(ctl: Int32Array, i: number, v: number): void {
  Atomics.store(ctl, i, v);
  Atomics.notify(ctl, i);
}

/** One worker's rounds. `model` is the free-running form (its thread a plain function). */
export function stressRounds(
  m: Machine,
  image: MachineImage,
  ctl: Int32Array,
  model: Model,
  t: StressRoundTask,
): StressWorkerResult {
  const result: StressWorkerResult = { cpu: t.cpu, rounds: 0, samples: [], threadMs: 0 };
  const fail = (e: unknown): StressWorkerResult => {
    result.error = e instanceof ModelError ? e.message : `model '${model.name}': ${describe(e)}`;
    set(ctl, CTL.ERROR, 1);
    for (let i = 0; i < CTL.WORDS; i++) Atomics.notify(ctl, i);
    return result;
  };
  for (let round = 0; ; round++) {
    // Set-up, in turn: each worker's create() from the starting image.
    if (!waitFor(ctl, CTL.TURN, (v) => v === t.cpu)) return result;
    let inst;
    let cpus;
    try {
      restore(m, image);
      cpus = Array.from({ length: t.cpus }, (_, i) => makeCpu(m, i, t.seed, model.irqRate ?? 0));
      inst = model.create(m, cpus, t.profile, model.prepare?.(m, cpus, t.profile));
      if (typeof inst?.thread !== 'function') throw new ModelError(`model '${model.name}': create() returned no thread function`);
    } catch (e) {
      return fail(e);
    }
    set(ctl, CTL.TURN, t.cpu + 1);
    if (!waitFor(ctl, CTL.TURN, (v) => v === t.cpus)) return result;
    // The threads, all at once.
    const t0 = performance.now();
    let messages: string[] = [];
    try {
      const ret = inst.thread(cpus[t.cpu]) as unknown;
      if (typeof (ret as Partial<Iterator<unknown>> | null)?.next === 'function')
        throw new ModelError(
          `model '${model.name}': thread() is still a generator in free-running form: mark its file '/* @two-way */' on the first line (and every module its threads yield* into)`,
        );
    } catch (e) {
      if (!isFinding(e)) return fail(e);
      messages.push((e as Error).message);
    }
    result.threadMs += performance.now() - t0;
    Atomics.add(ctl, CTL.ARRIVED, 1);
    Atomics.notify(ctl, CTL.ARRIVED);
    if (!waitFor(ctl, CTL.ARRIVED, (v) => v === t.cpus)) return result;
    // The final check, on every worker's instance.
    try {
      messages = [...messages, ...(inst.finalCheck?.() ?? [])];
    } catch (e) {
      if (!isFinding(e)) return fail(new ModelError(`model '${model.name}': finalCheck() threw ${describe(e)}`));
      messages.push((e as Error).message);
    }
    if (messages.length > 0) {
      Atomics.add(ctl, CTL.ROUND_BAD, 1);
      if (result.samples.length < MAX_SAMPLES) result.samples.push({ round, cpu: t.cpu, messages });
    }
    result.rounds++;
    if (Atomics.add(ctl, CTL.CHECKED, 1) === t.cpus - 1) {
      // The last checker ends the round: nobody reads the machine any more.
      if (Atomics.exchange(ctl, CTL.ROUND_BAD, 0) > 0) Atomics.add(ctl, CTL.FAILED, 1);
      Atomics.store(ctl, CTL.ARRIVED, 0);
      Atomics.store(ctl, CTL.CHECKED, 0);
      const stop = Atomics.load(ctl, CTL.STOP) !== 0 || (t.rounds > 0 && round + 1 >= t.rounds);
      if (!stop) Atomics.store(ctl, CTL.TURN, 0);
      set(ctl, CTL.ROUND, stop ? STOPPED : round + 1);
      Atomics.notify(ctl, CTL.TURN);
    } else if (!waitFor(ctl, CTL.ROUND, (v) => v === STOPPED || v === round + 1)) return result;
    if (Atomics.load(ctl, CTL.ROUND) === STOPPED) return result;
  }
}

function describe(e: unknown): string {
  const err = e as Error;
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`;
}
