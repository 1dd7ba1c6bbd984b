// The explorer's event record (src/sched/event.ts): before it moves, each CPU's next
// access is known (kind, word, a CAS's expected value); after, the step reports the
// event it made (a read, or a write with the value it overwrote). Strategies see both.
import { describe, expect, it } from 'vitest';
import { add32, cas32, cas64, load32, spinLock, spinUnlock, store32, waitWhile, xchg32 } from '../src/shm/atomic.js';
import { create, type Machine } from '../src/shm/machine.js';
import { EV, OP } from '../src/sched/event.js';
import { type RunView, runScheduled, type StepEvent, type Strategy } from '../src/sched/scheduler.js';
import { site, type Step } from '../src/sched/step.js';

const S = site('event-test');

/** Runs the lowest runnable CPU; logs each CPU's pending access at every decision and every event. */
class Recorder implements Strategy {
  readonly name = 'recorder';
  run!: RunView;
  readonly events: StepEvent[] = [];
  readonly pendingAtPick: Array<Array<[number, number, number]>> = [];
  begin(run: RunView): void {
    this.run = run;
  }
  pick(runnable: readonly number[]): number {
    this.pendingAtPick.push(runnable.map((c) => [this.run.pending.op[c], this.run.pending.word[c], this.run.pending.arg[c]]));
    return runnable[0];
  }
  onStep(step: StepEvent): void {
    this.events.push({ ...step });
  }
}

const machine = () => create({ cpus: 2, nodes: 1, memory: 1 << 20, profile: '6.6' });

describe('pending accesses and step events', () => {
  it('every primitive publishes its access before it moves and reports its event after', () => {
    const m = machine();
    const w = 4096; // words of simulated memory the machine does not use at start
    m.u32[w] = 7;
    function* cpu0(): Step {
      yield* load32(m, w, S);
      yield* store32(m, w, 7, S); // the same value: still a write
      yield* cas32(m, w, 1, 2, S); // fails: a read
      yield* cas32(m, w, 7, 8, S);
      yield* add32(m, w, 1, S);
      yield* xchg32(m, w, 3, S);
      yield* cas64(m, w + 2, 0, 0, 5, 6, S);
      yield* spinLock(m, w + 4, S);
      yield* spinUnlock(m, w + 4, S);
      yield* waitWhile(m, w, 0, S);
    }
    function* cpu1(): Step {
      yield* load32(m, w + 8, S);
    }
    const rec = new Recorder();
    const r = runScheduled([cpu0(), cpu1()], rec);
    expect(r.outcome).toBe('ok');
    const of0 = rec.events.filter((e) => e.cpu === 0 && e.op !== OP.NONE).map((e) => [e.op, e.word, e.ev, e.old]);
    expect(of0).toEqual([
      [OP.LOAD, w, EV.READ, expect.any(Number)],
      [OP.STORE, w, EV.WRITE, 7],
      [OP.CAS, w, EV.READ, expect.any(Number)],
      [OP.CAS, w, EV.WRITE, 7],
      [OP.ADD, w, EV.WRITE, 8],
      [OP.XCHG, w, EV.WRITE, 9],
      [OP.CAS2, w + 2, EV.WRITE, 0],
      [OP.LOCK, w + 4, EV.WRITE, 0],
      [OP.UNLOCK, w + 4, EV.WRITE, 1],
      [OP.WAIT, w, EV.READ, expect.any(Number)],
    ]);
    // the first decision: both CPUs at their first access, CAS's expected value with it
    expect(rec.pendingAtPick[0]).toEqual([
      [OP.NONE, -1, 0],
      [OP.NONE, -1, 0],
    ]);
    expect(rec.pendingAtPick[1]).toEqual([
      [OP.LOAD, w, 0],
      [OP.NONE, -1, 0],
    ]);
    const casPick = rec.pendingAtPick.find((p) => p[0][0] === OP.CAS);
    expect(casPick?.[0]).toEqual([OP.CAS, w, 1]);
    // a finished CPU has no pending access
    expect([...rec.run.pending.op]).toEqual([OP.NONE, OP.NONE]);
  });

  it('a blocked lock attempt makes no event, and its retry is still a pending lock', () => {
    const m = machine();
    const lock = 4096;
    function* holder(): Step {
      yield* spinLock(m, lock, S);
      yield* store32(m, lock + 1, 1, S);
      yield* spinUnlock(m, lock, S);
    }
    function* waiter(): Step {
      yield* spinLock(m, lock, S);
      yield* spinUnlock(m, lock, S);
    }
    // holder takes the lock, then the waiter tries, then the holder finishes
    const order = [0, 0, 1, 1];
    const rec = new Recorder();
    let i = 0;
    rec.pick = (runnable: readonly number[]) => {
      rec.pendingAtPick.push(runnable.map((c) => [rec.run.pending.op[c], rec.run.pending.word[c], 0]));
      const c = order[i++] ?? runnable[0];
      return runnable.includes(c) ? c : runnable[0];
    };
    expect(runScheduled([holder(), waiter()], rec).outcome).toBe('ok');
    const attempt = rec.events.find((e) => e.cpu === 1 && e.op === OP.LOCK);
    expect(attempt).toMatchObject({ ev: EV.NONE });
    expect(rec.events.filter((e) => e.cpu === 1 && e.op === OP.LOCK && e.ev === EV.WRITE)).toHaveLength(1);
  });

  it('unfair: a spinning CPU is offered like any other', () => {
    const flag = 4096;
    function* spinner(m: Machine): Step {
      while ((yield* load32(m, flag, S)) === 0) continue;
    }
    function* writer(m: Machine): Step {
      for (let i = 0; i < 5; i++) yield* load32(m, flag + 1, S);
      yield* store32(m, flag, 1, S);
    }
    /** Decisions made: CPU0 first for 12 steps (it ends up judged spinning), then the writer. */
    const decisions = (unfair: boolean) => {
      let picks = 0;
      const strategy: Strategy = {
        name: 'spy',
        pick: (runnable) => (picks++ < 12 && runnable.includes(0) ? 0 : runnable[runnable.length - 1]),
      };
      const m = machine();
      const r = runScheduled([spinner(m), writer(m)], strategy, { unfair });
      expect(r.outcome).toBe('ok');
      return { picks, steps: r.steps };
    };
    const fair = decisions(false);
    const unfairRun = decisions(true);
    // fair: once judged spinning, CPU0 is held back and the writer's steps are forced;
    // unfair: CPU0 is offered at each of them too
    expect(fair.picks).toBeLessThanOrEqual(12);
    expect(unfairRun.picks).toBeGreaterThanOrEqual(12 + 7);
  });
});
