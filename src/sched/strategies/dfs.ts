// Bounded exhaustive search: stateless model checking by re-execution with a preemption
// bound (Musuvathi & Qadeer, "Iterative context bounding for systematic testing of
// multithreaded programs", PLDI 2007; the same search loom and CHESS run). Each execution
// replays a forced prefix and then never preempts; backtracking takes the deepest
// decision with an untried runnable CPU whose choice keeps the preemptions within the
// bound. Spinning does not multiply the search: a CPU waiting on a lock is BLOCKed, hence
// not runnable, and the bound limits every other retry loop.
//
// In the weaker memory modes a decision is a token (record.ts): its alternatives are the
// other actions (a flush while the last CPU could go on is a preemption) and, for a load
// with k readable values, the k read choices of the chosen step (reading an older value
// than the newest is a preemption too). With no bound (Infinity) the search runs every
// execution of the program: every interleaving, every order of flushes, every value a
// load may read.
//
// Sleep sets (Godefroid, "Partial-Order Methods for the Verification of Concurrent
// Systems", LNCS 1032, 1996) make that affordable: after the subtree of an action a has
// been searched, a sibling's subtree never takes a again while only actions that commute
// with a have run since (sleep.ts, commute()): that order was in a's subtree.
// Every reachable state, hence every final state, is still reached; an execution that
// finds every action asleep is cut short (it would repeat one already run). Used only
// without a bound (with one, sleep sets would lose executions within the bound).
import { SlabError } from '../../errors.js';
import { schedBus } from '../../shm/atomic.js';
import { OP } from '../event.js';
import type { RunView, ScheduleResult, StepEvent, Strategy } from '../scheduler.js';
import type { WeakMemory } from '../weak.js';
import { commute, type Footprint, stepFootprint, TOUCH } from './sleep.js';
import {
  countPreemptions,
  type Decision,
  isPreemption,
  judge,
  preemptionsOf,
  RecordingStrategy,
  stayOrLowest,
  type Trial,
} from './record.js';

export interface DfsOptions {
  /** most preemptions per execution (Infinity: every interleaving) */
  preemptionBound: number;
  /** stop after this many executions (the report then says not exhausted) */
  maxExecutions?: number;
  /** called once after the first execution, with estimateDfs of it: print it before a long search */
  onEstimate?: (executions: number) => void;
  /** asked before every execution but the first: true ends the search (not exhausted) */
  shouldStop?: () => boolean;
  /**
   * A weaker memory mode without a bound: skip the orders of actions that commute (sleep
   * sets). The executions run are then fewer than the executions of the program.
   */
  sleepSets?: boolean;
}

export interface DfsFailure {
  /** 1-based number of the execution that failed */
  execution: number;
  result: ScheduleResult;
  /** the failing schedule: replays exactly with ReplayStrategy */
  choices: number[];
  preemptions: number;
}

export interface DfsReport {
  executions: number;
  /** every schedule within the bound ran, none failed */
  exhausted: boolean;
  estimate: number;
  failure?: DfsFailure;
  /** sleep sets: executions cut short because they could only repeat one already run (counted in executions) */
  redundant?: number;
}

/** One decision on the current path, with the alternatives already run. */
interface Frame extends Decision {
  choice: number;
  /** its read choice, and how many values its load could read (0: no choice) */
  read: number;
  reads: number;
  tried: number[];
  /** preemptions up to and including this decision */
  preemptions: number;
  /** sleep sets: what each runnable action touches, and the actions asleep at this decision */
  fps?: Footprint[];
  sleep?: Footprint[];
}

/** What a sleep-set search records at a decision of its own (not replayed). */
interface Asleep {
  fps: Footprint[];
  sleep: Footprint[];
}

/** Thrown by the strategy at a decision where every action is asleep: the run would repeat another. */
class SleepBlocked extends Error {}

/** A decision of a prefix: the action, and the read choice of its load. */
interface Chosen {
  choice: number;
  read: number;
}

/**
 * Replays the prefix strictly (a differing run means the trial is not deterministic),
 * then never preempts, flushes only when no CPU can move, and reads the newest value.
 * With sleep sets (`sleepAfter`, the actions asleep after the prefix's last step) it then
 * also takes no action that is asleep, and records each decision's footprints.
 */
class PrefixStrategy implements Strategy {
  readonly name = 'dfs';
  private i = 0;
  private read = 0;
  /** sleep sets: per decision past the prefix, its footprints and actions asleep */
  readonly asleep: Array<Asleep | undefined> = [];
  private run: RunView | null = null;
  private weak: WeakMemory | null = null;
  /** the actions asleep now (null: no sleep sets, or still replaying the prefix) */
  private sleep: Footprint[] | null = null;
  /** the next step is the step of the prefix's last decision: the sleep set starts after it */
  private armNext = false;
  /** each CPU's pending arg as of its last step (the step it makes next) */
  private args: Int32Array = new Int32Array(0);
  onStep?: (e: StepEvent) => void;
  constructor(
    private readonly prefix: readonly Chosen[],
    private readonly sleepAfter: readonly Footprint[] | null = null,
  ) {
    if (sleepAfter) this.onStep = (e) => this.stepped(e);
  }
  begin(run: RunView): void {
    this.run = run;
    this.weak = schedBus.weak;
    this.args = new Int32Array(run.cpus);
    if (this.sleepAfter && this.prefix.length === 0) this.sleep = [];
  }
  pick(runnable: readonly number[], last: number): number {
    const i = this.i++;
    this.read = 0;
    if (i < this.prefix.length) {
      const p = this.prefix[i];
      if (!runnable.includes(p.choice)) nondeterministic(i);
      this.read = p.read;
      this.armNext = i === this.prefix.length - 1;
      return p.choice;
    }
    const sleep = this.sleep;
    if (sleep === null) return stayOrLowest(runnable, last);
    const fps = runnable.map((a) => this.footprint(a));
    this.asleep[i] = { fps, sleep: sleep.slice() };
    const awake = runnable.filter((a) => !sleep.some((s) => s.action === a));
    if (awake.length === 0) throw new SleepBlocked();
    return stayOrLowest(awake, last);
  }
  pickRead(cpu: number, _k: number, picked: boolean): number {
    if (picked) return this.read;
    const i = this.i++;
    if (i >= this.prefix.length) {
      if (this.sleep) this.asleep[i] = { fps: [this.footprint(cpu)], sleep: this.sleep.slice() };
      return 0;
    }
    if (this.prefix[i].choice !== cpu) nondeterministic(i);
    this.armNext = i === this.prefix.length - 1;
    return this.prefix[i].read;
  }
  /** What action `a` touches now (a CPU's step: its pending access; a flush: its word). */
  private footprint(a: number): Footprint {
    const run = this.run as RunView;
    const weak = this.weak as WeakMemory;
    if (a >= run.cpus) return { action: a, cpu: a % run.cpus, touch: TOUCH.WRITE, word: weak.flushWord(a) };
    return stepFootprint(a, run.pending.op[a], run.pending.word[a], run.pending.arg[a], weak.mode);
  }
  /** Keep asleep only the actions that commute with the step just made. */
  private stepped(e: StepEvent): void {
    const c = e.cpu;
    const fp =
      e.op === OP.FLUSH
        ? { action: -1, cpu: c, touch: TOUCH.WRITE, word: e.word }
        : stepFootprint(c, e.op, e.word, this.args[c], (this.weak as WeakMemory).mode);
    if (e.op !== OP.FLUSH) this.args[c] = (this.run as RunView).pending.arg[c];
    if (this.armNext) {
      this.armNext = false;
      this.sleep = (this.sleepAfter as Footprint[]).slice();
    } else if (this.sleep) this.sleep = this.sleep.filter((s) => commute(s, fp));
  }
}

function nondeterministic(decision: number): never {
  throw new SlabError('EINVAL', `dfs: decision ${decision + 1} differs from the previous run: the trial is not deterministic`);
}

/** Enumerate the distinct schedules of `trial` with at most `preemptionBound` preemptions. */
export function exploreDfs(trial: Trial, opts: DfsOptions): DfsReport {
  const bound = opts.preemptionBound;
  const maxExecutions = opts.maxExecutions ?? 100_000;
  const sleepSets = opts.sleepSets === true && bound === Infinity;
  const stack: Frame[] = [];
  let prefix: Chosen[] = [];
  let sleepAfter: Footprint[] | null = sleepSets ? [] : null;
  let estimate = 0;
  let redundant = 0;
  const report = (r: DfsReport): DfsReport => (sleepSets ? { ...r, redundant } : r);
  for (let executions = 1; executions <= maxExecutions; executions++) {
    if (executions > 1 && opts.shouldStop?.()) return report({ executions: executions - 1, exhausted: false, estimate });
    const strategy = new PrefixStrategy(prefix, sleepAfter);
    const rec = new RecordingStrategy(strategy);
    let v;
    try {
      v = judge(trial(rec));
    } catch (e) {
      if (!(e instanceof SleepBlocked)) throw e;
    }
    extend(stack, rec.decisions, prefix.length, strategy.asleep);
    if (v === undefined) {
      redundant++;
      const next = backtrack(stack, bound, sleepSets);
      if (next === undefined) return report({ executions, exhausted: true, estimate });
      ({ prefix, sleepAfter } = next);
      continue;
    }
    if (executions === 1) {
      estimate = estimateDfs(rec.decisions, bound);
      opts.onEstimate?.(estimate);
    }
    if (v.failed || v.result.outcome !== 'ok') {
      const failure = {
        execution: executions,
        result: v.result,
        choices: v.result.choices,
        preemptions: countPreemptions(rec.decisions),
      };
      return report({ executions, exhausted: false, estimate, failure });
    }
    const next = backtrack(stack, bound, sleepSets);
    if (next === undefined) return report({ executions, exhausted: true, estimate });
    ({ prefix, sleepAfter } = next);
  }
  return report({ executions: maxExecutions, exhausted: false, estimate });
}

/**
 * Check the replayed prefix saw the same runnable sets (and loads with as many values),
 * then push the new decisions. The last decision of the prefix is the one backtracking
 * changed: its load's values are learnt from this run.
 */
function extend(stack: Frame[], decisions: readonly Decision[], forced: number, asleep: ReadonlyArray<Asleep | undefined>): void {
  if (decisions.length < forced) nondeterministic(decisions.length);
  for (let i = 0; i < forced; i++) {
    const d = decisions[i];
    if (d.runnable.join() !== stack[i].runnable.join()) nondeterministic(i);
    if (i === forced - 1) stack[i].reads = d.reads ?? 0;
    else if ((d.reads ?? 0) !== stack[i].reads) nondeterministic(i);
  }
  for (let i = forced; i < decisions.length; i++) {
    const d = decisions[i];
    const before = i > 0 ? stack[i - 1].preemptions : 0;
    const preemptions = before + preemptionsOf(d);
    stack.push({ ...d, read: d.read ?? 0, reads: d.reads ?? 0, tried: [d.choice], preemptions, ...asleep[i] });
  }
}

/** The next execution: its prefix, and with sleep sets the actions asleep after it. */
interface Next {
  prefix: Chosen[];
  sleepAfter: Footprint[] | null;
}

/**
 * The next prefix: the deepest decision with an untried read of its load, or an untried
 * action within the bound (with sleep sets: not asleep there); undefined when exhausted.
 */
function backtrack(stack: Frame[], bound: number, sleepSets: boolean): Next | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    const before = i > 0 ? stack[i - 1].preemptions : 0;
    const switched = before + (isPreemption(f.runnable, f.last, f.choice) ? 1 : 0);
    if (f.read + 1 < f.reads && switched + 1 <= bound) {
      f.read++;
      f.preemptions = switched + 1;
      stack.length = i + 1;
      return next(stack, sleepSets);
    }
    for (const alt of f.runnable) {
      if (f.tried.includes(alt) || f.sleep?.some((s) => s.action === alt)) continue;
      const preemptions = before + (isPreemption(f.runnable, f.last, alt) ? 1 : 0);
      if (preemptions > bound) continue;
      f.tried.push(alt);
      f.choice = alt;
      f.read = 0;
      f.reads = 0;
      f.preemptions = preemptions;
      stack.length = i + 1;
      return next(stack, sleepSets);
    }
  }
  return undefined;
}

/**
 * The prefix of the stack, and with sleep sets the actions asleep after its last step:
 * those asleep at the last decision and its actions searched before the one taken now,
 * that commute with it.
 */
function next(stack: Frame[], sleepSets: boolean): Next {
  const prefix = stack.map((x) => ({ choice: x.choice, read: x.read }));
  const f = stack[stack.length - 1];
  if (!sleepSets || !f.fps || !f.sleep) return { prefix, sleepAfter: sleepSets ? [] : null };
  const fps = f.fps;
  const fpOf = (a: number): Footprint => fps[f.runnable.indexOf(a)];
  const taken = fpOf(f.choice);
  const done = f.tried.filter((a) => a !== f.choice).map(fpOf);
  return { prefix, sleepAfter: [...f.sleep, ...done].filter((s) => commute(s, taken)) };
}

/**
 * Estimate the executions of exploreDfs from its first (non-preemptive) run:
 *
 *   E(b) = F · Σ_{j=0..min(b,m)} C(m, j) · a^j
 *
 * where F is the product of the runnable-set sizes at the free decisions (the first one,
 * and those where `last` blocked or finished: any CPU may go on without a preemption),
 * m the number of decisions where `last` could go on (the candidate preemption points),
 * and a the mean number of other runnable CPUs there (cpus - 1 when nobody blocks): j
 * preemptions placed at C(m, j) points, each to one of a CPUs. Exact for b <= 1 when
 * nobody blocks; for b >= 2 it undercounts (a preempted CPU stays live longer, so later
 * runs have more decision points than the first) by a small factor on short programs.
 */
export function estimateDfs(firstRun: readonly Decision[], bound: number): number {
  let free = 1;
  let m = 0;
  let others = 0;
  for (const d of firstRun) {
    if ((d.reads ?? 0) > 1) free *= d.reads ?? 1;
    if (d.last >= 0 && d.runnable.includes(d.last)) {
      m++;
      others += d.runnable.length - 1;
    } else free *= d.runnable.length;
  }
  const a = m > 0 ? others / m : 0;
  let sum = 0;
  let binom = 1; // C(m, j)
  for (let j = 0; j <= Math.min(bound, m); j++) {
    sum += binom * a ** j;
    binom = (binom * (m - j)) / (j + 1);
  }
  return Math.round(free * sum);
}
