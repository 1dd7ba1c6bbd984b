// Dynamic partial-order reduction (memory-models.md §7): explore one execution per
// Mazurkiewicz trace, statelessly, by re-running the program from its starting state.
//
// - `optimal` is [POPL14] Algorithm 2: wakeup trees, never two equivalent complete
//   executions and no run that ends sleep-set blocked. `source` is Algorithm 1:
//   source sets and sleep sets, the same complete executions, some runs cut short
//   asleep (counted as sleep-blocked).
// - A node per step of the current execution keeps what each CPU would do there, the
//   sleep set, and the branches still to explore (a wakeup tree, or a backtrack set).
//   The next execution replays the path to the deepest node with a branch left (each
//   replayed step checked against the recorded one: a difference means the model is not
//   deterministic), takes that branch, then follows its wakeup tree, then any CPU.
// - Which CPU may move (§7.5): one the scheduler would run (not finished, not blocked),
//   not busy-waiting (spin-assume, judged here from the exact repetition of an
//   iteration: the fair scheduler's own judgement is a heuristic that may suspect a CPU
//   whose next iteration would differ, harmless to it, fatal to an exhaustive search),
//   whose lock is free, whose waited-on word has changed. An execution
//   where no CPU may move but some has not finished is blocked: a deadlock, or a wait
//   nobody can end. A failure or a blocked execution ends the search; it is run again
//   under the fair scheduler (the choices recorded for it), so that its schedule string
//   replays and shrinks as every other does.
// - A preemption bound (§7.6) prunes branches past it and adds conservative branches
//   at the start of the running CPU's turn ([BPOR]; loom's Path::backtrack), under
//   classic DPOR without sleep sets (Search.classic): every trace that a schedule within
//   the bound reaches is explored, some more than once.
// - Shards: every state above a frontier depth explores every CPU (sleep sets alone:
//   each trace once), and each state at the frontier is one item; shard k of n explores
//   items k, k + n, ... below it with DPOR. The shards' complete executions are disjoint
//   and together are one search's. Threads split a shard's items the same way, under a
//   frontier that depends on the number of shards alone.
import { ModelError } from '../../errors.js';
import { EV, OP } from '../event.js';
import type { RunView, ScheduleResult, StepEvent, Strategy } from '../scheduler.js';
import { SITE_MASK } from '../step.js';
import { judge, stayOrLowest, type Verdict } from '../strategies/record.js';
import { dependent, type Ev, Execution, opWords, type Race, type Step } from './trace.js';
import { initials, insert, weakInitial, type WuNode } from './wakeup.js';

/** The DPOR variants, by name (`--dpor`, ExploreSettings.dpor). */
export const DPOR_ALGORITHMS = ['optimal', 'source'] as const;
/** `optimal`: wakeup trees ([POPL14] Algorithm 2); `source`: source sets and sleep sets (Algorithm 1). */
export type DporAlgorithm = (typeof DPOR_ALGORITHMS)[number];

/** Runs the program once from its starting state under `strategy`; `unfair` as ScheduleOptions.unfair. */
export type DporTrial = (strategy: Strategy, unfair: boolean) => ScheduleResult | Verdict;

export interface DporOptions {
  algorithm: DporAlgorithm;
  /** most preemptions per execution (Infinity: none) */
  preemptionBound: number;
  /** stop after this many runs (the report then says not exhausted) */
  maxExecutions?: number;
  /** asked before every run but the first: true ends the search (not exhausted) */
  shouldStop?: () => boolean;
  /** this search's share of the items at the frontier, [k, n] (default [0, 1]: all, no frontier) */
  shard?: readonly [number, number];
  /**
   * The share [i, t] of this shard's items that one of t threads takes: items j with
   * j % n = k and ⌊j / n⌋ % t = i. The frontier does not depend on t, so a shard's
   * executions are the same on any number of threads.
   */
  thread?: readonly [number, number];
  /** frontier items per shard (per thread without shards) to aim for (default 16) */
  itemsPerShard?: number;
}

/** How a DPOR search ended: its executions by kind, and the first failure. */
export interface DporReport {
  algorithm: DporAlgorithm;
  /** the preemption bound, or null */
  bound: number | null;
  /** runs made, partial ones (frontier, cut) included */
  runs: number;
  /** executions where every CPU finished: one per trace explored */
  complete: number;
  /** executions where no CPU could move but some had not finished (a deadlock, or a wait nobody ends) */
  blocked: number;
  /** runs cut short because every CPU that could move was asleep (source DPOR; below a shard frontier) */
  sleepBlocked: number;
  /** the whole space (the whole bounded space; this shard's share of it) was explored */
  exhausted: boolean;
  /** the depth of the shard frontier (0: none) and the items on it */
  frontier: { depth: number; items: number };
  failure?: DporFailure;
}

export interface DporFailure {
  /** a check failed, or no CPU could move (blocked) */
  kind: 'failed' | 'blocked';
  /** 1-based number of the run */
  execution: number;
  /** the failing run's choices under the fair scheduler: they replay it exactly */
  choices: number[];
  result: ScheduleResult;
}

/** Thrown when a run exceeds its step limit: DPOR needs every run to end. */
export class DporUnboundedRun extends Error {
  constructor(
    readonly choices: number[],
    readonly steps: number,
  ) {
    super(`a run did not end within its step limit (${steps} steps)`);
    this.name = 'DporUnboundedRun';
  }
}

/** The state before one step of the current execution. */
interface Node {
  /** each CPU's next event here (null: finished) */
  next: (Ev | null)[];
  /** 1: the CPU may move here */
  enabled: Uint8Array;
  /** the CPU this execution moves here, and the event it made (once it has run) */
  chosen: number;
  ev?: Step;
  /** sleeping CPUs, with their events */
  sleep: (Ev | null)[];
  /** optimal: the wakeup tree's branches not yet taken */
  wut: WuNode[];
  /** source, and every node above a frontier: CPUs to explore here */
  backtrack: Uint8Array;
  /** under a bound (classic DPOR, no sleep sets): 1 for each CPU explored here already */
  tried: Uint8Array;
  /** above the frontier: every CPU is explored */
  full: boolean;
  /** the CPU that made the step before, and preemptions up to here */
  last: number;
  preemptions: number;
}

const DEFAULT_ITEMS_PER_SHARD = 16;
/** The frontier goes no deeper than this (steps). */
const MAX_FRONTIER_DEPTH = 200;

/** Explore `trial` by DPOR until its space is exhausted, a failure, or the run cap. */
export function exploreDpor(trial: DporTrial, opts: DporOptions): DporReport {
  const [k, n] = opts.shard ?? [0, 1];
  const [i, t] = opts.thread ?? [0, 1];
  const frontier = { depth: 0, items: 0 };
  if (n > 1 || t > 1)
    Object.assign(frontier, frontierFor(trial, opts, (n > 1 ? n : t) * (opts.itemsPerShard ?? DEFAULT_ITEMS_PER_SHARD)));
  const s = new Search(opts, frontier.depth, [k, n], [i, t]);
  return { ...s.explore(trial), frontier };
}

/** The shallowest frontier with at least `target` items (or the deepest tried). */
function frontierFor(trial: DporTrial, opts: DporOptions, target: number): { depth: number; items: number } {
  let best = { depth: 0, items: 1 };
  for (let depth = 1; depth <= MAX_FRONTIER_DEPTH; depth = depth < 8 ? depth + 1 : depth * 2) {
    const s = new Search({ ...opts, maxExecutions: undefined, shouldStop: undefined }, depth, [0, 1], [0, 1], true);
    s.explore(trial);
    if (s.items > best.items) best = { depth, items: s.items };
    if (s.items >= target || s.items === s.endedAbove) break;
  }
  return best;
}

class Search {
  readonly nodes: Node[] = [];
  /** nodes the next run replays: the last of them has a new choice (the branch) */
  replay = 0;
  /** the wakeup subtree the first new node starts with */
  guide: WuNode[] = [];
  items = 0;
  /** the item of the frontier state on the current path: the runs that replay through it are its own */
  current = -1;
  /** items that were executions ending above the frontier */
  endedAbove = 0;
  runs = 0;
  complete = 0;
  blocked = 0;
  sleepBlocked = 0;
  readonly bound: number;
  /**
   * Under a preemption bound: classic DPOR (Flanagan and Godefroid: the racing CPU, or
   * every CPU when it cannot move there) with BPOR's conservative branches and no sleep
   * sets, whichever algorithm was asked for. Sleep sets and wakeup trees prune an
   * execution because an equivalent one is explored elsewhere, but under a bound that
   * one may lie past it ([BPOR]: the bound makes independent steps dependent).
   */
  readonly classic: boolean;

  constructor(
    readonly opts: DporOptions,
    readonly depth: number,
    readonly shard: readonly [number, number],
    readonly thread: readonly [number, number],
    /** only count the frontier's items (every run stops at the frontier) */
    readonly counting = false,
  ) {
    this.bound = opts.preemptionBound;
    this.classic = Number.isFinite(this.bound);
  }

  explore(trial: DporTrial): Omit<DporReport, 'frontier'> {
    const report = (exhausted: boolean, failure?: DporFailure): Omit<DporReport, 'frontier'> => ({
      algorithm: this.opts.algorithm,
      bound: Number.isFinite(this.bound) ? this.bound : null,
      runs: this.runs,
      complete: this.complete,
      blocked: this.blocked,
      sleepBlocked: this.sleepBlocked,
      exhausted,
      ...(failure ? { failure } : {}),
    });
    const max = this.opts.maxExecutions ?? Infinity;
    for (;;) {
      if (this.runs >= max || (this.runs > 0 && this.opts.shouldStop?.())) return report(false);
      this.runs++;
      const run = new DporRun(this);
      const v = judge(trial(run, true));
      const end = run.ending(v);
      if (end === 'unbounded') throw new DporUnboundedRun(fairReplay(trial, run.fairChoices).result.choices, v.result.steps);
      if (this.depth > 0 && run.item < 0) {
        // An execution that ended above the frontier is an item of its own.
        run.item = this.items++;
        this.endedAbove++;
      }
      const mine = !this.counting && (run.item < 0 || this.owns(run.item));
      if (mine && end !== 'skip') {
        if (end === 'complete' || end === 'failed') this.complete++;
        else if (end === 'blocked') this.blocked++;
        else this.sleepBlocked++;
      }
      if (mine && (end === 'failed' || end === 'blocked')) return report(false, this.failure(trial, run, end, v));
      if (this.opts.algorithm === 'optimal' && !this.classic) for (const r of run.races) this.reverse(run.exec, r);
      if (!this.backtrack()) return report(true);
    }
  }

  /** The failure as a run of the fair scheduler: its choices replay it (a wait judged endless must really be). */
  private failure(trial: DporTrial, run: DporRun, kind: 'failed' | 'blocked', v: Verdict): DporFailure {
    const waiting = run.waitingCpus();
    const fair = fairReplay(trial, run.fairChoices);
    if (!fair.failed) {
      if (kind === 'blocked')
        throw new ModelError(
          `dpor: ${waiting} judged to wait for a change nobody makes, but run by the fair scheduler the program went on: ` +
            'dpor takes a loop that repeats an iteration reading unchanged words and writing nothing for a wait (spin-assume); ' +
            'a loop that gives up after a count breaks that (explore it with --strategy dfs)',
        );
      throw new ModelError(
        `dpor: a failing run (${v.result.message ?? 'a failed check'}) did not fail when replayed: the model is not deterministic`,
      );
    }
    return { kind, execution: this.runs, choices: fair.result.choices, result: fair.result };
  }

  /** The node after `parent`'s step, or the first: next events, who may move, the sleep set. */
  newNode(parent: Node | undefined, view: RunView, run: DporRun, full: boolean): Node {
    const n = view.cpus;
    const next: (Ev | null)[] = new Array(n);
    const enabled = new Uint8Array(n);
    for (let c = 0; c < n; c++) {
      next[c] = run.nextEvent(c);
      enabled[c] = run.mayMove(c) ? 1 : 0;
    }
    const sleep: (Ev | null)[] = new Array(n).fill(null);
    let last = -1;
    let preemptions = 0;
    if (parent) {
      const ev = parent.ev as Step;
      for (let q = 0; q < n; q++) {
        const z = parent.sleep[q];
        if (z && !dependent(z, ev)) sleep[q] = z;
      }
      last = parent.chosen;
      preemptions = parent.preemptions + (preempts(parent, parent.chosen) ? 1 : 0);
    }
    return {
      next,
      enabled,
      chosen: -1,
      sleep,
      wut: [],
      backtrack: new Uint8Array(n),
      tried: new Uint8Array(n),
      full,
      last,
      preemptions,
    };
  }

  /** Whether moving `cpu` at `node` stays within the bound. */
  fits(node: Node, cpu: number): boolean {
    return node.preemptions + (preempts(node, cpu) ? 1 : 0) <= this.bound;
  }

  /** A CPU that may move at `node`, is awake, and fits: staying on the last one first. */
  defaultChoice(node: Node): number {
    const ok = (c: number): boolean => node.enabled[c] === 1 && !node.sleep[c] && this.fits(node, c);
    if (node.last >= 0 && ok(node.last)) return node.last;
    for (let c = 0; c < node.enabled.length; c++) if (ok(c)) return c;
    return -1;
  }

  /** Frontier item `item` is this shard's and this thread's. */
  owns(item: number): boolean {
    const [k, n] = this.shard;
    const [i, t] = this.thread;
    return item % n === k && Math.floor(item / n) % t === i;
  }

  /** A branch of a wakeup tree can be taken at `node`: its CPU may move there, as recorded, within the bound. */
  takes(node: Node, ev: Ev): boolean {
    const c = ev.cpu;
    const next = node.next[c];
    return (
      node.enabled[c] === 1 && !node.sleep[c] && next !== null && next.op === ev.op && next.word === ev.word && this.fits(node, c)
    );
  }

  /**
   * Optimal DPOR, after a run: for a race e ⋖ f, the sequence that reverses it (the steps
   * after e that do not happen after it, then f as it would be at e's place) goes into
   * the wakeup tree at e's state, unless f could not move there or a sleeping CPU
   * already covers it.
   */
  reverse(exec: Execution, r: Race): void {
    if (r.e < this.depth) return; // above the frontier every CPU is explored
    const node = this.nodes[r.e];
    const f = exec.steps[r.f];
    const re = exec.reversed(f, r.e);
    if (!re.enabled) return;
    const v: Ev[] = [...exec.notdep(r.e), re.ev];
    for (let q = 0; q < node.sleep.length; q++) {
      const z = node.sleep[q];
      if (z && weakInitial(z, v)) return;
    }
    const first = v[0].cpu;
    if (this.fits(node, first)) insert(node.wut, v);
  }

  /**
   * Source DPOR, as f runs: for a race e ⋖ f, one initial of (the steps after e that do
   * not happen after it, then f) joins e's backtrack set, unless one is there already.
   */
  addBacktrack(exec: Execution, r: Race): void {
    if (r.e < this.depth) return;
    const node = this.nodes[r.e];
    if (this.classic) {
      const p = exec.steps[r.f].cpu;
      const qs = node.enabled[p] ? [p] : [...node.enabled.keys()].filter((c) => node.enabled[c]);
      for (const q of qs) {
        if (this.fits(node, q)) node.backtrack[q] = 1;
        this.conservative(r.e, q, (at) => (at.backtrack[q] = 1));
      }
      return;
    }
    const u: Ev[] = [...exec.notdep(r.e, r.f), exec.steps[r.f]];
    const init = initials(u);
    if (init.some((q) => node.backtrack[q])) return;
    const q = init.find((c) => node.enabled[c] && !node.sleep[c]) ?? init[0];
    if (this.fits(node, q)) node.backtrack[q] = 1;
  }

  /**
   * Under a bound, also branch to `cpu` where the CPU running at `at` began its turn (or
   * at the start): a branch dropped for the bound may be reachable from there.
   */
  private conservative(at: number, cpu: number, add: (node: Node, ev: Ev) => void): void {
    let j = at;
    while (j > 0 && this.nodes[j - 1].chosen === this.nodes[j].chosen) j--;
    if (j === at || j < this.depth) return;
    const node = this.nodes[j];
    const ev = node.next[cpu];
    if (ev && node.enabled[cpu] && !node.sleep[cpu] && node.chosen !== cpu && this.fits(node, cpu)) add(node, ev);
  }

  /** Pick the next branch: the deepest node with one left. False when every branch is done. */
  backtrack(): boolean {
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (node.chosen >= 0) {
        if (this.classic) node.tried[node.chosen] = 1;
        else node.sleep[node.chosen] = node.ev ?? node.next[node.chosen];
      }
      node.ev = undefined;
      let next = -1;
      this.guide = [];
      if (node.full || this.opts.algorithm === 'source' || this.classic) {
        for (let c = 0; c < node.backtrack.length && next < 0; c++)
          if (node.backtrack[c] && !node.sleep[c] && !node.tried[c] && node.enabled[c] && this.fits(node, c)) next = c;
      } else {
        while (node.wut.length > 0 && next < 0) {
          const c = node.wut.shift() as WuNode;
          if (this.takes(node, c.ev)) {
            next = c.ev.cpu;
            this.guide = c.children;
          }
        }
      }
      if (next >= 0) {
        node.chosen = next;
        this.nodes.length = i + 1;
        this.replay = i + 1;
        return true;
      }
    }
    this.nodes.length = 0;
    return false;
  }
}

/** Moving `cpu` at `node` preempts the CPU that moved before, which could go on. */
const preempts = (node: Node, cpu: number): boolean => node.last >= 0 && cpu !== node.last && node.enabled[node.last] === 1;

/** The fair scheduler's run of `choices` (then never preempting): how a DPOR run replays. */
function fairReplay(trial: DporTrial, choices: readonly number[]): Verdict {
  let i = 0;
  const strategy: Strategy = {
    name: 'dpor-replay',
    pick: (runnable, last) => {
      const c = choices[i++];
      return c !== undefined && runnable.includes(c) ? c : stayOrLowest(runnable, last);
    },
  };
  return judge(trial(strategy, false));
}

type Ending = 'complete' | 'failed' | 'blocked' | 'sleep' | 'skip' | 'unbounded';

/** One run of the search: replays the path, then chooses; records the events and races. */
export class DporRun implements Strategy {
  readonly name = 'dpor';
  private view!: RunView;
  exec!: Execution;
  /** optimal: the races of this run's new steps */
  readonly races: Race[] = [];
  /** the choices the fair scheduler would record for this run */
  readonly fairChoices: number[] = [];
  /** the frontier item this run belongs to (-1: none) */
  item = -1;
  private halted: Ending | null = null;
  private choice = -1;
  /**
   * Each CPU's busy-wait: where it began (the position of the step after which it was
   * judged waiting; -1: none) and the words it waits on. It lasts until its
   * next step, which reads those words (the write that ended the wait stays before it).
   */
  private waitFrom!: Int32Array;
  private waitWords!: number[][];
  /** 1: judged waiting (judgeWait), until a write changes a word it waits on */
  private waiting!: Uint8Array;
  /** what each CPU did since it last changed a word: (site, op, word, value) per step, the latest last */
  private history!: number[][];
  /** the schedule point each CPU stopped at */
  private point!: Int32Array;
  /** the words each CPU read plainly since it last changed a word (they are read by its wait too) */
  private plainRead!: number[][];
  /** the current step's plain accesses (plainAccess), taken by onStep */
  private plainW: number[] = [];
  private plainR: number[] = [];
  private plainChanged = false;
  /**
   * Told of each plain access (m.u32 between schedule points) of the step under way
   * (RunOptions.onPlainAccess): two-way code shares some words plainly under a lock,
   * and dependency must see them.
   */
  readonly plainAccess = (write: boolean, word: number, changed: boolean): void => {
    if (write) {
      if (!this.plainW.includes(word)) this.plainW.push(word);
      if (changed) this.plainChanged = true;
    } else if (!this.plainR.includes(word)) this.plainR.push(word);
  };
  /** the wakeup subtree the next new node starts with */
  private guide: WuNode[];
  /** the expected values of the chosen CPU's pending access, taken before it moves */
  private arg = 0;
  private arg2 = 0;
  private readonly mem = (): Uint32Array => this.view.memory as Uint32Array;

  constructor(private readonly s: Search) {
    this.guide = s.guide;
  }

  begin(view: RunView): void {
    if (!view.memory) throw new Error('dpor: the scheduler was not given the machine memory');
    this.view = view;
    this.exec = new Execution(view.cpus);
    this.waitFrom = new Int32Array(view.cpus).fill(-1);
    this.waitWords = Array.from({ length: view.cpus }, () => []);
    this.waiting = new Uint8Array(view.cpus);
    this.history = Array.from({ length: view.cpus }, () => []);
    this.point = new Int32Array(view.cpus);
    this.plainRead = Array.from({ length: view.cpus }, () => []);
  }

  /** Whether `cpu` may move (§7.5): the scheduler would run it, it is not busy-waiting, its lock is free, its wait is over. */
  mayMove(cpu: number): boolean {
    const v = this.view;
    if (v.done[cpu] || v.blocked[cpu] >= 0 || this.waiting[cpu]) return false;
    const op = v.pending.op[cpu];
    if (op === OP.LOCK) return this.mem()[v.pending.word[cpu]] === 0;
    if (op === OP.WAIT) return this.mem()[v.pending.word[cpu]] !== v.pending.arg[cpu] >>> 0;
    return true;
  }

  /** What `cpu` would do next, as an event (null: it has finished). */
  nextEvent(cpu: number): Ev | null {
    const v = this.view;
    if (v.done[cpu]) return null;
    const op = v.pending.op[cpu];
    const word = v.pending.word[cpu];
    const arg = v.pending.arg[cpu];
    const m = this.mem();
    const words = opWords(op, word);
    let write = false;
    switch (op) {
      case OP.STORE:
      case OP.ADD:
      case OP.XCHG:
      case OP.UNLOCK:
      case OP.LOCK:
        write = true;
        break;
      case OP.TRYLOCK:
        write = m[word] === 0;
        break;
      case OP.CAS:
        write = (m[word] | 0) === arg;
        break;
      case OP.CAS2:
        write = (m[word] | 0) === arg && (m[word + 1] | 0) === v.pending.arg2[cpu];
        break;
    }
    const waits = this.waitFrom[cpu] >= 0;
    const waited = waits ? this.waitWords[cpu] : [];
    return {
      cpu,
      op,
      word,
      ww: write ? words : [],
      rw: waited.length === 0 ? (write ? [] : words) : [...(write ? [] : words), ...waited.filter((w) => !words.includes(w))],
    };
  }

  halt(runnable: readonly number[], step: number): boolean {
    const s = this.s;
    let node: Node;
    if (step < s.replay) {
      if (step === s.depth) this.item = s.current;
      node = s.nodes[step];
      const c = node.chosen;
      const was = node.next[c];
      const v = this.view;
      if (
        !runnable.includes(c) ||
        !this.mayMove(c) ||
        was === null ||
        v.pending.op[c] !== was.op ||
        v.pending.word[c] !== was.word
      )
        nondeterministic(
          step,
          c,
          `it ${v.done[c] ? 'had finished' : !this.mayMove(c) ? 'could not move' : 'was about to make another access'}`,
        );
    } else {
      const parent = s.nodes[step - 1];
      const full = step < s.depth;
      if (step === s.depth && s.depth > 0) {
        this.item = s.current = s.items++;
        if (s.counting || !s.owns(this.item)) return this.stop('skip');
      }
      node = s.newNode(parent, this.view, this, full);
      s.nodes.push(node);
      if (!node.enabled.includes(1)) return this.stop('blocked');
      let c = -1;
      if (!full && s.opts.algorithm === 'optimal' && !s.classic) {
        // The wakeup subtree handed down: its branches are explored here, leftmost first.
        node.wut = this.guide;
        this.guide = [];
        while (node.wut.length > 0 && c < 0) {
          const w = node.wut.shift() as WuNode;
          if (s.takes(node, w.ev)) {
            c = w.ev.cpu;
            this.guide = w.children;
          }
        }
      }
      if (c < 0) c = s.defaultChoice(node);
      if (c < 0) return this.stop('sleep');
      node.chosen = c;
      if (full) {
        for (let q = 0; q < node.enabled.length; q++)
          if (node.enabled[q] && !node.sleep[q] && s.fits(node, q)) node.backtrack[q] = 1;
      } else node.backtrack[c] = 1;
    }
    this.choice = node.chosen;
    this.arg = this.view.pending.arg[this.choice];
    this.arg2 = this.view.pending.arg2[this.choice];
    let fair = 0;
    for (const c of runnable) if (!this.view.spinning[c]) fair++;
    if ((fair > 0 ? fair : runnable.length) > 1) this.fairChoices.push(this.choice);
    return false;
  }

  private stop(why: Ending): boolean {
    this.halted = why;
    return true;
  }

  pick(): number {
    return this.choice;
  }

  onStep(e: StepEvent): void {
    const s = this.s;
    const exec = this.exec;
    const pos = exec.steps.length;
    const node = s.nodes[pos];
    if (e.cpu !== node.chosen) nondeterministic(pos, node.chosen, `CPU${e.cpu} moved instead`);
    const { plainW, plainR, plainChanged } = this;
    this.plainW = [];
    this.plainR = [];
    this.plainChanged = false;
    const was = node.ev;
    if (was) {
      // Replayed: the step of the previous run, if it made the same access.
      if (was.op !== e.op || was.word !== e.word || was.ww.length > (was.pw?.length ?? 0) !== (e.ev === EV.WRITE))
        nondeterministic(pos, e.cpu, 'its access differs from the previous run');
      this.waitFrom[e.cpu] = -1;
      exec.add(was, false);
      this.judgeWait(was, e.point);
      return;
    }
    const m = this.mem();
    const words = opWords(e.op, e.word);
    const after = words.map((w) => m[w]);
    const write = e.ev === EV.WRITE;
    const pending = node.next[e.cpu] as Ev;
    const pw = plainW.filter((w) => !words.includes(w));
    const pr = plainR.filter((w) => !words.includes(w) && !pw.includes(w));
    const waited = pending.rw.filter((w) => !words.includes(w) && !pw.includes(w) && !pr.includes(w));
    const step: Step = {
      cpu: e.cpu,
      op: e.op,
      word: e.word,
      ww: [...(write ? words : []), ...pw],
      rw: [...(write || e.ev === EV.NONE ? [] : words), ...waited, ...pr],
      pos: 0,
      idx: 0,
      arg: this.arg,
      arg2: this.arg2,
      before: write ? [e.old >>> 0, e.op === OP.CAS2 ? this.arg2 >>> 0 : 0] : after,
      after,
      changed: plainChanged || (write && (after[0] !== e.old >>> 0 || (e.op === OP.CAS2 && after[1] !== this.arg2 >>> 0))),
      ...(pw.length > 0 ? { pw } : {}),
      ...(pr.length > 0 ? { pr } : {}),
    };
    if (this.waitFrom[e.cpu] >= 0) {
      step.wait = { from: this.waitFrom[e.cpu], words: this.waitWords[e.cpu] };
      this.waitFrom[e.cpu] = -1;
    }
    node.ev = step;
    const races = exec.add(step);
    this.judgeWait(step, e.point);
    if (s.opts.algorithm === 'source' || s.classic) for (const r of races) s.addBacktrack(exec, r);
    else for (const r of races) this.races.push(r);
  }

  /**
   * Spin-assume (§7.5), on top of the scheduler's own judgement: a CPU waits when it has
   * repeated one iteration of steps (the same sites, accesses and values read; a
   * cpuRelax() is a step too), changing no word, and is about to start it a third time.
   * It may not move until a write changes a word it read since its last change: another
   * iteration would read the same values and do the same. A write that changes a word
   * ends the waits on it, and starts over the history of every CPU that read it.
   */
  private judgeWait(step: Step, point: number): void {
    const c = step.cpu;
    const site = this.point[c] & SITE_MASK;
    this.point[c] = point;
    const h = this.history[c];
    if (step.changed) {
      // Whoever read a word this changed may see something new: its history starts over, its wait ends.
      h.length = 0;
      this.plainRead[c] = [];
      for (let q = 0; q < this.waiting.length; q++) {
        if (q === c) continue;
        const words = this.waitWords[q];
        if (this.waiting[q] && step.ww.some((w) => words.includes(w))) this.waiting[q] = 0;
        const hq = this.history[q];
        let read = this.plainRead[q].some((w) => step.ww.includes(w));
        for (let i = 0; i < hq.length && !read; i += 4) read = opWords(hq[i + 1], hq[i + 2]).some((w) => step.ww.includes(w));
        if (read) {
          hq.length = 0;
          this.plainRead[q] = [];
        }
      }
      return;
    }
    for (const w of step.pr ?? []) if (!this.plainRead[c].includes(w)) this.plainRead[c].push(w);
    h.push(site, step.op, step.word, step.after[0] ?? 0);
    if (h.length > HISTORY * 4) h.splice(0, 4);
    if (point < 0 || this.waitFrom[c] >= 0) return;
    const read = readWords(h);
    if (read.length === 0) return;
    if (this.repeats(c, point & SITE_MASK)) {
      this.waiting[c] = 1;
      this.waitFrom[c] = step.pos;
      this.waitWords[c] = [...read, ...this.plainRead[c].filter((w) => !read.includes(w))];
    }
  }

  /** CPU c's last k steps, one of them a read, repeat the k before them, and its next access starts them again. */
  private repeats(c: number, site: number): boolean {
    const h = this.history[c];
    const n = h.length / 4;
    const op = this.view.pending.op[c];
    const word = this.view.pending.word[c];
    for (let k = 1; 2 * k <= n && k <= HISTORY / 2; k++) {
      const start = (n - k) * 4;
      if (h[start] !== site || h[start + 1] !== op || h[start + 2] !== word) continue;
      let same = true;
      let reads = false;
      for (let i = 0; i < k * 4 && same; i++) {
        same = h[start + i] === h[start - k * 4 + i];
        if (i % 4 === 1 && h[start + i] !== OP.NONE) reads = true;
      }
      // An iteration that reads nothing waits for nothing (a walk over local state, bare schedule points).
      if (same && reads) return true;
    }
    return false;
  }

  /** How the run ended, for the search. */
  ending(v: Verdict): Ending {
    if (this.halted) return this.halted;
    if (v.result.outcome === 'budget') return 'unbounded';
    if (v.failed) return v.result.outcome === 'deadlock' || v.result.outcome === 'livelock' ? 'blocked' : 'failed';
    return 'complete';
  }

  /** The CPUs judged to be waiting, for a message. */
  waitingCpus(): string {
    const who: string[] = [];
    for (let c = 0; c < this.view.cpus; c++) if (this.waiting[c]) who.push(`CPU${c}`);
    return who.length > 0 ? who.join(', ') : 'no CPU';
  }
}

/** Steps of a CPU's history kept for judging a wait: the longest loop iteration it can see is half of it. */
const HISTORY = 32;

/** The words read in a history of (site, op, word, value) steps. */
function readWords(h: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < h.length; i += 4) {
    for (const w of opWords(h[i + 1], h[i + 2])) if (!out.includes(w)) out.push(w);
  }
  return out;
}

function nondeterministic(step: number, cpu: number, what: string): never {
  throw new ModelError(
    `the model is not deterministic: replaying the same schedule, step ${step + 1} (CPU${cpu}) differs from the previous run: ${what}`,
  );
}
