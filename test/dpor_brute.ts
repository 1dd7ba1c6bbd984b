// Counting Mazurkiewicz traces the slow way, to check DPOR's counts: run every
// interleaving (every choice at every step where two or more CPUs can move), and name
// each run by its happens-before relation (each step's kind, words and vector clock,
// dependency as in memory-models.md §7.1). Equivalent runs get the same name.
//
// A blocking primitive is a disabled event while its condition fails (§7.5): a
// spinLock is enabled only while its word is 0, a waitWhile only once its word differs
// from the value it waits on. So a CPU is offered only when its next event is enabled:
// an attempt that would block is no event (it changes nothing), and counting it would
// split one trace in two (the attempt made or not while the word was held).
import { EV, OP } from '../src/sched/event.js';
import type { DporTrial } from '../src/sched/dpor/search.js';
import { dependent, type Ev, opWords } from '../src/sched/dpor/trace.js';
import type { RunView, StepEvent, Strategy } from '../src/sched/scheduler.js';
import { judge } from '../src/sched/strategies/record.js';

/** Names a run by its trace: each step's CPU, index, access and clock, in CPU order. */
class TraceNamer {
  private readonly steps: Array<Ev & { idx: number; vc: number[] }> = [];
  private readonly perCpu: number[] = [];
  add(e: StepEvent): void {
    const words = opWords(e.op, e.word);
    const write = e.ev === EV.WRITE;
    const ev: Ev = { cpu: e.cpu, op: e.op, word: e.word, ww: write ? words : [], rw: write || e.ev === EV.NONE ? [] : words };
    const idx = (this.perCpu[e.cpu] = (this.perCpu[e.cpu] ?? -1) + 1);
    const vc: number[] = [];
    for (const s of this.steps)
      if (dependent(s, ev)) for (let q = 0; q < s.vc.length; q++) vc[q] = Math.max(vc[q] ?? 0, s.vc[q] ?? 0);
    vc[e.cpu] = idx + 1;
    for (let q = 0; q < vc.length; q++) vc[q] ??= 0;
    this.steps.push({ ...ev, idx, vc });
  }
  name(): string {
    return this.steps
      .map((s) => `${s.cpu}.${s.idx}:${s.op === OP.NONE ? '' : `${s.op}${s.ww.length ? 'w' : 'r'}${s.word}`}@${s.vc.join(',')}`)
      .sort()
      .join(' ');
  }
}

/**
 * Follows a prefix of choices, then the lowest CPU; records every choice point and names
 * the run. Within `bound` preemptions: a switch away from the CPU that moved last while it
 * could go on is one (as DPOR counts them).
 */
class Walker implements Strategy {
  readonly name = 'brute';
  readonly points: number[][] = [];
  readonly namer = new TraceNamer();
  private view!: RunView;
  private preemptions = 0;
  constructor(
    private readonly prefix: readonly number[],
    private readonly bound = Infinity,
  ) {}
  begin(view: RunView): void {
    this.view = view;
  }
  /** The CPU's next event is enabled: its lock is free, its wait is over. */
  private enabled(c: number): boolean {
    const { pending, memory } = this.view;
    const value = (memory as Uint32Array)[pending.word[c]];
    if (pending.op[c] === OP.LOCK) return value === 0;
    if (pending.op[c] === OP.WAIT) return value !== pending.arg[c] >>> 0;
    return true;
  }
  pick(runnable: readonly number[], last: number): number {
    const i = this.points.length;
    let offered = runnable.filter((c) => this.enabled(c));
    // none enabled: the run is blocked whatever moves; let the scheduler find the deadlock
    if (offered.length === 0) offered = [runnable[0]];
    const stays = offered.includes(last);
    if (stays && this.preemptions >= this.bound) offered = [last];
    this.points.push(offered);
    const c = i < this.prefix.length ? this.prefix[i] : offered[0];
    if (stays && c !== last) this.preemptions++;
    return c;
  }
  onStep(e: StepEvent): void {
    this.namer.add(e);
  }
}

/**
 * `trial` that also names each of DPOR's complete executions (its unfair runs that
 * ended) into `names`, by the same naming as the brute force's.
 */
export function namingTrial(trial: DporTrial, names: Set<string>): DporTrial {
  return (strategy, unfair) => {
    const namer = new TraceNamer();
    const named: Strategy = {
      name: strategy.name,
      pick: (runnable, last, step) => strategy.pick(runnable, last, step),
      begin: (view) => strategy.begin?.(view),
      onStep: (e) => {
        namer.add(e);
        strategy.onStep?.(e);
      },
      halt: (runnable, step) => strategy.halt?.(runnable, step) ?? false,
    };
    const v = trial(named, unfair);
    if (unfair && judge(v).result.outcome === 'ok') names.add(namer.name());
    return v;
  };
}

/**
 * Every interleaving of `trial` (unfair: every CPU that can move is offered), or every one
 * within `bound` preemptions: how many runs, the distinct traces (their names).
 */
export function bruteTraces(
  trial: DporTrial,
  { maxRuns = 200_000, bound = Infinity } = {},
): { runs: number; traces: number; failed: number; names: Set<string> } {
  const seen = new Set<string>();
  let prefix: number[] = [];
  let runs = 0;
  let failed = 0;
  for (;;) {
    if (++runs > maxRuns) throw new Error(`more than ${maxRuns} interleavings`);
    const w = new Walker(prefix, bound);
    if (judge(trial(w, true)).failed) failed++;
    seen.add(w.namer.name());
    // next: the deepest choice point with an untried CPU above the one taken
    const taken = w.points.map((p, i) => (i < prefix.length ? prefix[i] : p[0]));
    let i = taken.length - 1;
    for (; i >= 0; i--) {
      const p = w.points[i];
      const at = p.indexOf(taken[i]);
      if (at + 1 < p.length) {
        prefix = [...taken.slice(0, i), p[at + 1]];
        break;
      }
    }
    if (i < 0) return { runs, traces: seen.size, failed, names: seen };
  }
}
