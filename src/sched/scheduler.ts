// The deterministic scheduler: runs one generator per simulated CPU on this thread and
// lets a strategy pick, at every schedule point, which CPU moves next.
//
// Fair scheduling of busy-waits (Musuvathi & Qadeer, "Fair stateless model checking",
// PLDI 2008): a CPU that cannot make progress until another CPU writes something is
// *spinning*, and a spinning CPU is offered to the strategy only when no other CPU can
// move. So a spin-wait never starves the CPU it waits for, under any strategy: a PCT
// run whose highest CPU spins ends, and switching away from a spinner is not a
// preemption, so DFS's non-preemptive continuation ends too and its bound stays what
// it was. A CPU waits only while no word its loop read has changed since it read it:
// it is spinning from its cpu_relax() (a RELAX point) after a whole iteration whose
// reads are all logged, or from its third read of a word, and any change of a word it
// read starts its log over (its next read of that word may let it out). When only
// spinners can move they take turns, fewest steps first, so that one whose loop ends by
// itself (a bounded retry) is never starved by another that waits for it. Nothing is
// blocked for good by this: a wrongly suspected CPU only waits its turn.
//
// Weaker memory modes (src/sched/weak.ts): the strategy picks among *actions*, a CPU's
// step (id < n) or a flush of a store buffer (n·(1 + j) + c: the j-th flushable store of
// CPU c). Flushes are offered like a CPU that is not spinning, so a CPU waiting for a
// store to become visible waits for the flush, and when every CPU has finished the run
// goes on flushing, in every order the mode allows, until the buffers are empty. A
// CPU about to load with k > 1 readable values asks the strategy which (pickRead).
import { schedBus } from '../shm/atomic.js';
import { EV, OP, PendingAccesses } from './event.js';
import { readToken } from './schedule.js';
import { BLOCK, RELAX, type Step, siteName } from './step.js';
import { thisCpu } from './this_cpu.js';
import type { BufferedStore, WeakMemory } from './weak.js';

/** A seeded, self-contained policy for choosing the next CPU. */
export interface Strategy {
  readonly name: string;
  /**
   * Choose one of `runnable` (ascending CPU ids, two or more). `last` is the CPU that made
   * the previous step (-1 before the first): choosing another while `last` is runnable
   * is a preemption. `step` is the number of steps made so far.
   */
  pick(runnable: readonly number[], last: number, step: number): number;
  /**
   * Weaker memory modes: CPU `cpu`, about to move, loads a word with `k` > 1 readable
   * values; choose one, 0 the newest. `picked`: its step was this decision's pick (else
   * it was the only action). Without pickRead every load reads the newest value.
   */
  pickRead?(cpu: number, k: number, picked: boolean): number;
  /** Called once before the first step, with the run's view of its CPUs. */
  begin?(run: RunView): void;
  /**
   * Called after every step, forced ones included: `step.cpu` moved and made `step`'s
   * event; its next access is already in `run.pending`. `step` is reused: copy it.
   */
  onStep?(step: StepEvent): void;
  /**
   * Asked before every step when defined (forced steps too), with the CPUs that could
   * move: true ends the run there, outcome 'halted'. For a search that decides for itself
   * which CPUs may move (DPOR: none may, or every one that may is asleep).
   */
  halt?(runnable: readonly number[], step: number): boolean;
}

/** The access a step made (src/sched/event.ts): the CPU's pending access before it moved, and what it did. */
export interface StepEvent {
  cpu: number;
  /** OP code of the access (OP.NONE: the step made none) */
  op: number;
  /** its word (CAS2: the low word of the pair), or -1 */
  word: number;
  /** EV.READ, EV.WRITE, or EV.NONE (no access, or a blocked attempt) */
  ev: number;
  /** a write's overwritten value */
  old: number;
  /** the schedule point the CPU stopped at after the step (site id and flags: RELAX), or -1 when it finished */
  point: number;
}

/** What a strategy may look at during a run (read-only; valid until the run ends). */
export interface RunView {
  readonly cpus: number;
  /** each CPU's next access (src/sched/event.ts) */
  readonly pending: PendingAccesses;
  /** 1: the CPU's program has finished */
  readonly done: Uint8Array;
  /** the word a CPU is blocked on, or -1 */
  readonly blocked: Int32Array;
  /** 1: the CPU is busy-waiting (held back unless `unfair`; see the fair scheduling above) */
  readonly spinning: Uint8Array;
  /** the machine's words, when the runner gave them (ScheduleOptions.memory) */
  readonly memory?: Uint32Array;
}

export interface ScheduleOptions {
  /** Give up (outcome 'budget') after this many steps; a guard against livelock. */
  maxSteps?: number;
  /**
   * Steps in a row in which only spinning CPUs could move and none changed a word:
   * outcome 'livelock'. Default SPIN_LIVELOCK_STEPS.
   */
  livelockSteps?: number;
  /**
   * The run's store buffers and histories in a weaker memory mode (weakMemoryFor(m,
   * mode)); absent or null: sc.
   */
  weak?: WeakMemory | null;
  /** Cheap invariant checks after every step, given the words it changed; throw to fail the run. */
  afterStep?: (cpu: number, written: readonly number[]) => void;
  /** Record (cpu, site) of every step. */
  trace?: boolean;
  /**
   * Offer spinning CPUs like any other (default: false, spinners wait their turn). An
   * exhaustive search that decides for itself which runs are equivalent (DPOR) must see
   * every CPU that can move.
   */
  unfair?: boolean;
  /** The machine's words, for a strategy that decides from values (RunView.memory). */
  memory?: Uint32Array;
}

/** 'halted': the strategy ended the run (Strategy.halt). */
export type Outcome = 'ok' | 'deadlock' | 'livelock' | 'budget' | 'error' | 'halted';

export interface ScheduleResult {
  outcome: Outcome;
  steps: number;
  /** the strategy's choice at each decision point, in order */
  choices: number[];
  /** what each CPU's program returned (undefined if it did not finish) */
  results: unknown[];
  error?: unknown;
  /** the CPU whose program threw (outcome 'error' from a program) */
  errorCpu?: number;
  message?: string;
  /** per step: cpu and site name, when `trace` was asked for */
  trace?: TraceStep[];
}

/** One step: who moved, where it stopped next, and whether it stopped blocked or spinning. */
export interface TraceStep {
  /** the CPU that moved */
  cpu: number;
  /** the schedule point where the CPU stopped after this step (its next access), or '(finished)' */
  site: string;
  /** it stopped blocked on a lock or a wait (not runnable until a word it waits on changes) */
  blocked?: true;
  /** it is busy-waiting: run only when no other CPU can move */
  spinning?: true;
  /** the shared-memory accesses the step made (filled in by the race runner when tracing) */
  accesses?: Access[];
  /** weaker memory modes: the step was a flush of this CPU's store buffer, not a step of its program */
  flush?: true;
  /** weaker memory modes: every CPU's store buffer after the step, oldest store first (filled in by the race runner) */
  buffers?: BufferedStore[][];
}

/** One access a step made, as `replay --trace` prints it. */
export interface Access {
  /**
   * the primitive: load32, store32, cas32, cas64 (cas2), add32, xchg32, spinLock,
   * spinTrylock, spinUnlock; in the weaker memory modes also fence, and flush (a buffered
   * store reaching memory)
   */
  kind: 'load' | 'store' | 'cas' | 'cas2' | 'add' | 'xchg' | 'lock' | 'trylock' | 'unlock' | 'fence' | 'flush';
  /** the word index (for cas2, the low word of the pair; -1 for a fence) */
  word: number;
  /** the value loaded, stored, swapped in (cas), or found (add, xchg) */
  value: number;
  /** CAS and lock: whether it took */
  ok?: boolean;
  /**
   * weaker memory modes: the ordering when not the primitive's plain one (acquire,
   * release, relaxed, dep, sc for Atomics), or a fence's kind (mb, wmb, rmb)
   */
  order?: string;
  /** weaker memory modes: the store went into the CPU's store buffer (memory gets it at its flush) */
  buffered?: true;
  /** weaker memory modes: the load took the value of the CPU's own buffered store */
  forwarded?: true;
  /** weaker memory modes: the load returned an older value than memory held, which was this */
  stale?: number;
}

/** A word read this many times unchanged (the first read included) marks a busy-wait. */
export const SPIN_READS = 3;
/**
 * Reads are logged only after this many steps in a row in which the CPU changed nothing:
 * straight-line code changes a word every few steps, so most steps skip the log.
 */
const LOG_AFTER = 4;
export const SPIN_LIVELOCK_STEPS = 10_000;
/** Words a CPU remembers having read since its last change; a longer loop is not suspected. */
const READ_LOG = 32;
/** RunState.cover */
const PARTIAL = 1;
const ITERATION = 2;

/**
 * What each CPU has read since it last changed a word: words and read counts, oldest
 * first. A word is dropped from every log when some CPU changes it.
 */
class ReadLogs {
  private readonly words: Int32Array;
  private readonly counts: Uint8Array;
  private readonly len: Uint8Array;
  constructor(n: number) {
    this.words = new Int32Array(n * READ_LOG);
    this.counts = new Uint8Array(n * READ_LOG);
    this.len = new Uint8Array(n);
  }

  /** Count a read of `word` by `cpu`; true when it is the SPIN_READS-th of the same word. */
  read(cpu: number, word: number): boolean {
    const base = cpu * READ_LOG;
    const len = this.len[cpu];
    for (let i = base; i < base + len; i++) {
      if (this.words[i] === word) return ++this.counts[i] >= SPIN_READS;
    }
    if (len < READ_LOG) {
      this.words[base + len] = word;
      this.counts[base + len] = 1;
      this.len[cpu] = len + 1;
    }
    return false;
  }

  clear(cpu: number): void {
    this.len[cpu] = 0;
  }

  clearAll(): void {
    this.len.fill(0);
  }

  isEmpty(cpu: number): boolean {
    return this.len[cpu] === 0;
  }

  /** Forget `word` in `cpu`'s log; true if it was there. */
  drop(cpu: number, word: number): boolean {
    const base = cpu * READ_LOG;
    const len = this.len[cpu];
    for (let i = base; i < base + len; i++) {
      if (this.words[i] !== word) continue;
      const last = base + len - 1;
      this.words[i] = this.words[last];
      this.counts[i] = this.counts[last];
      this.len[cpu] = len - 1;
      return true;
    }
    return false;
  }
}

/** The per-CPU state of one run, kept between runs of as many CPUs (typed arrays cost to make). */
class RunState {
  readonly done: Uint8Array;
  /** word each CPU is blocked on, or -1; and a second word that also wakes it */
  readonly blocked: Int32Array;
  readonly alsoWake: Int32Array;
  /** 1: busy-waiting, run only when nobody else can move */
  readonly spinning: Uint8Array;
  readonly logs: ReadLogs;
  /**
   * What each CPU's read log covers: PARTIAL, some read since it started is not in it
   * (read before logging starts, LOG_AFTER); ITERATION, it started at a cpu_relax() and
   * holds every read since, so the next cpu_relax() closes a whole iteration.
   */
  readonly cover: Uint8Array;
  /** steps each CPU made while only spinners could move (their turns) */
  readonly spinSteps: Int32Array;
  /** steps in a row in which each CPU changed no word */
  readonly quiet: Int32Array;
  readonly pending: PendingAccesses;
  inUse = false;
  constructor(n: number) {
    this.done = new Uint8Array(n);
    this.blocked = new Int32Array(n);
    this.alsoWake = new Int32Array(n);
    this.spinning = new Uint8Array(n);
    this.logs = new ReadLogs(n);
    this.cover = new Uint8Array(n);
    this.spinSteps = new Int32Array(n);
    this.quiet = new Int32Array(n);
    this.pending = new PendingAccesses(n);
  }
  reset(): this {
    this.done.fill(0);
    this.blocked.fill(-1);
    this.alsoWake.fill(-1);
    this.spinning.fill(0);
    this.logs.clearAll();
    this.cover.fill(0);
    this.spinSteps.fill(0);
    this.quiet.fill(0);
    this.pending.reset();
    return this;
  }
}
const states = new Map<number, RunState>();

/** Run `programs` (CPU i runs programs[i]) to completion under `strategy`. */
export function runScheduled(programs: Step<unknown>[], strategy: Strategy, opts: ScheduleOptions = {}): ScheduleResult {
  const n = programs.length;
  let state = states.get(n);
  if (!state || state.inUse) states.set(n, (state = new RunState(n))); // a run inside a run gets its own
  state.reset().inUse = true;
  const outerWeak = schedBus.weak;
  schedBus.weak = opts.weak ?? null;
  try {
    return schedule(programs, strategy, opts, state);
  } finally {
    state.inUse = false;
    schedBus.weak = outerWeak;
  }
}

function schedule(programs: Step<unknown>[], strategy: Strategy, opts: ScheduleOptions, state: RunState): ScheduleResult {
  const n = programs.length;
  const maxSteps = opts.maxSteps ?? 10_000_000;
  const livelockSteps = opts.livelockSteps ?? SPIN_LIVELOCK_STEPS;
  const afterStep = opts.afterStep;
  const { done, blocked, alsoWake, spinning, logs, cover, spinSteps, quiet, pending } = state;
  const unfair = opts.unfair === true;
  const onStep = strategy.onStep?.bind(strategy);
  const pickRead = strategy.pickRead?.bind(strategy);
  const wm = opts.weak ?? null;
  const event: StepEvent = { cpu: -1, op: OP.NONE, word: -1, ev: EV.NONE, old: 0, point: -1 };
  const halt = strategy.halt?.bind(strategy);
  strategy.begin?.({
    cpus: n,
    pending,
    done,
    blocked,
    spinning,
    memory: opts.memory,
  });
  const results = new Array<unknown>(n);
  const choices: number[] = [];
  const trace = opts.trace ? ([] as TraceStep[]) : undefined;
  /** where each CPU stopped last (the site a flush step's trace line names) */
  const siteOf = trace && wm ? new Array<string>(n).fill('(start)') : null;
  /** reused between steps; its length changes only when the number of runnable CPUs does (the setter is slow) */
  const runnable: number[] = [];
  let steps = 0;
  let last = -1;
  /** steps in a row with only spinners to run and no word changed */
  let idleSpin = 0;
  const outside = thisCpu.id;
  const finish = (outcome: Outcome, extra: Partial<ScheduleResult> = {}): ScheduleResult => ({
    outcome,
    steps,
    choices,
    results,
    trace,
    ...extra,
  });

  for (;;) {
    let k = 0;
    let live = 0;
    let spinners = 0;
    for (let c = 0; c < n; c++) {
      if (done[c]) continue;
      live++;
      if (blocked[c] >= 0) continue;
      if (spinning[c] && !unfair) spinners++;
      else runnable[k++] = c;
    }
    if (wm !== null) k = wm.flushActions(runnable, k);
    if (k === 0) {
      if (live === 0) return finish('ok');
      if (spinners === 0) {
        const who = [...blocked].map((w, c) => (w >= 0 && !done[c] ? `CPU${c} on word ${w}` : '')).filter(Boolean);
        return finish('deadlock', { message: `deadlock: every live CPU is blocked (${who.join(', ')})` });
      }
      if (++idleSpin > livelockSteps) return finish('livelock', { message: livelockMessage(spinning, done, livelockSteps) });
      // Their turns: the spinners that have moved least since only spinners could move.
      let least = Infinity;
      for (let c = 0; c < n; c++) if (!done[c] && blocked[c] < 0 && spinSteps[c] < least) least = spinSteps[c];
      for (let c = 0; c < n; c++) if (!done[c] && blocked[c] < 0 && spinSteps[c] === least) runnable[k++] = c;
    } else if (idleSpin !== 0) {
      idleSpin = 0;
      spinSteps.fill(0);
    }
    if (runnable.length !== k) runnable.length = k;
    if (steps >= maxSteps)
      return finish('budget', { message: `possible livelock: the run exceeded its step limit (max-steps ${maxSteps})` });
    if (halt?.(runnable, steps)) return finish('halted', { message: `halted by strategy ${strategy.name} after ${steps} steps` });
    let cpu = runnable[0];
    const picked = runnable.length > 1;
    if (picked) {
      cpu = strategy.pick(runnable, last, steps);
      choices.push(cpu);
    }
    if (schedBus.written.length !== 0) schedBus.written = [];
    schedBus.read = -1;
    schedBus.blockedOn = -1;
    schedBus.alsoWakeOn = -1;
    schedBus.op = OP.NONE;
    schedBus.ev = EV.NONE;
    if (cpu >= n) {
      if (wm === null) throw new Error(`strategy ${strategy.name} picked action ${cpu}, which is none of ${runnable.join(',')}`);
      const flushed = flush(wm, cpu);
      if (flushed !== null) return flushed;
      continue;
    }
    if (wm !== null && pending.op[cpu] === OP.LOAD && !spinning[cpu]) {
      // A spinning CPU reads the newest value: re-reading an older one only adds steps.
      const reads = wm.readChoices(cpu, pending.word[cpu], pending.arg[cpu]);
      if (reads > 1) {
        const i = pickRead ? Math.max(0, Math.min(reads - 1, pickRead(cpu, reads, picked) | 0)) : 0;
        const t = readToken(cpu, i, n);
        if (picked) choices[choices.length - 1] = t;
        else choices.push(t);
        wm.nextRead = i;
      }
    }
    if (idleSpin !== 0) spinSteps[cpu]++;
    let r: IteratorResult<number, unknown>;
    thisCpu.id = cpu;
    try {
      r = programs[cpu].next();
    } catch (error) {
      return finish('error', { error, errorCpu: cpu, message: `CPU${cpu}: ${(error as Error).message}` });
    } finally {
      thisCpu.id = outside;
    }
    steps++;
    last = cpu;
    if (onStep) {
      event.cpu = cpu;
      event.op = pending.op[cpu];
      event.word = pending.word[cpu];
      event.ev = schedBus.ev;
      event.old = schedBus.old;
      event.point = r.done ? -1 : r.value;
    }
    pending.op[cpu] = schedBus.op;
    pending.word[cpu] = schedBus.word;
    pending.arg[cpu] = schedBus.arg;
    pending.arg2[cpu] = schedBus.arg2;
    onStep?.(event);
    const written = schedBus.written;
    if (written.length > 0) {
      // Progress: this CPU's reads start over, and whoever read a changed word may move.
      if (idleSpin !== 0) {
        idleSpin = 0;
        spinSteps.fill(0);
      }
      forget(cpu);
      quiet[cpu] = 0;
      spinning[cpu] = 0;
      wake(written);
    } else if (schedBus.read >= 0) {
      if (++quiet[cpu] <= LOG_AFTER) cover[cpu] = PARTIAL;
      else if (logs.read(cpu, schedBus.read)) {
        // A log that misses some reads cannot vouch that nothing the loop reads has
        // changed: start it over, complete this time (every later read is logged).
        if (cover[cpu] === PARTIAL) forget(cpu);
        else spinning[cpu] = 1;
      }
    } else quiet[cpu]++;
    if (r.done) {
      done[cpu] = 1;
      results[cpu] = r.value;
      trace?.push({ cpu, site: '(finished)' });
    } else if (r.value & BLOCK) {
      blocked[cpu] = schedBus.blockedOn;
      alsoWake[cpu] = schedBus.alsoWakeOn;
      trace?.push({ cpu, site: siteName(r.value), blocked: true });
    } else {
      if (r.value & RELAX) relax(cpu);
      if (trace) trace.push(spinning[cpu] ? { cpu, site: siteName(r.value), spinning: true } : { cpu, site: siteName(r.value) });
    }
    if (siteOf && trace) siteOf[cpu] = trace[trace.length - 1].site;
    if (afterStep) {
      try {
        afterStep(cpu, written);
      } catch (error) {
        return finish('error', { error, message: `after a step of CPU${cpu}: ${(error as Error).message}` });
      }
    }
  }

  /** A flush step: a store of a CPU's buffer reaches memory; its program does not move (nor `last`). */
  function flush(weak: WeakMemory, action: number): ScheduleResult | null {
    const owner = action % n;
    const word = weak.flushAction(action);
    steps++;
    if (onStep) {
      event.cpu = owner;
      event.op = OP.FLUSH;
      event.word = word;
      event.ev = EV.WRITE;
      event.old = schedBus.old;
      onStep(event);
    }
    trace?.push({ cpu: owner, site: siteOf?.[owner] ?? '', flush: true });
    const written = schedBus.written;
    if (written.length > 0) {
      if (idleSpin !== 0) {
        idleSpin = 0;
        spinSteps.fill(0);
      }
      wake(written);
    }
    if (afterStep) {
      try {
        afterStep(owner, written);
      } catch (error) {
        return finish('error', { error, message: `after a flush of CPU${owner}'s store buffer: ${(error as Error).message}` });
      }
    }
    return null;
  }

  /** Start `cpu`'s read log over. */
  function forget(cpu: number): void {
    logs.clear(cpu);
    cover[cpu] = 0;
  }

  /**
   * cpu_relax(): the end of an iteration of a busy-wait. The CPU waits if its log holds
   * every read of the iteration and none of those words has changed since (a change
   * would have started the log over); otherwise its next iteration is the one judged.
   */
  function relax(cpu: number): void {
    if (cover[cpu] === ITERATION) spinning[cpu] = 1;
    else {
      forget(cpu);
      cover[cpu] = ITERATION;
    }
  }

  /**
   * A change of a word wakes the CPUs blocked on it, and starts over the read log of
   * every CPU that read it: a CPU waits only while *no* word its loop read has changed
   * since it read it (its next read of the changed word may let it out). A spinner that
   * read nothing, or whose log misses reads, is woken by any change.
   */
  function wake(words: readonly number[]): void {
    for (const w of words) {
      for (let c = 0; c < n; c++) {
        if (blocked[c] >= 0 && (blocked[c] === w || alsoWake[c] === w)) {
          blocked[c] = -1;
          alsoWake[c] = -1;
        }
        if (logs.drop(c, w) || (spinning[c] && (cover[c] === PARTIAL || logs.isEmpty(c)))) {
          spinning[c] = 0;
          forget(c);
        }
      }
    }
  }
}

function livelockMessage(spinning: Uint8Array, done: Uint8Array, steps: number): string {
  const who = [...spinning].flatMap((s, c) => (s && !done[c] ? [`CPU${c}`] : []));
  return `livelock: ${who.join(', ')} spun ${steps} steps on words no CPU changes (every other CPU blocked or finished)`;
}
