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

/** Follows a prefix of choices, then the lowest CPU; records every choice point and names the run. */
class Walker implements Strategy {
  readonly name = 'brute';
  readonly points: number[][] = [];
  private readonly steps: Array<Ev & { idx: number; vc: number[] }> = [];
  private readonly perCpu: number[] = [];
  private view!: RunView;
  constructor(private readonly prefix: readonly number[]) {}
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
  pick(runnable: readonly number[]): number {
    const i = this.points.length;
    const offered = runnable.filter((c) => this.enabled(c));
    // none enabled: the run is blocked whatever moves; let the scheduler find the deadlock
    this.points.push(offered.length > 0 ? offered : [runnable[0]]);
    return i < this.prefix.length ? this.prefix[i] : this.points[i][0];
  }
  onStep(e: StepEvent): void {
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
  /** The run's trace: each step's CPU, index, access and clock, in CPU order. */
  trace(): string {
    return this.steps
      .map((s) => `${s.cpu}.${s.idx}:${s.op === OP.NONE ? '' : `${s.op}${s.ww.length ? 'w' : 'r'}${s.word}`}@${s.vc.join(',')}`)
      .sort()
      .join(' ');
  }
}

/** Every interleaving of `trial` (unfair: every CPU that can move is offered): how many runs, how many distinct traces. */
export function bruteTraces(trial: DporTrial, maxRuns = 200_000): { runs: number; traces: number; failed: number } {
  const seen = new Set<string>();
  let prefix: number[] = [];
  let runs = 0;
  let failed = 0;
  for (;;) {
    if (++runs > maxRuns) throw new Error(`more than ${maxRuns} interleavings`);
    const w = new Walker(prefix);
    if (judge(trial(w, true)).failed) failed++;
    seen.add(w.trace());
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
    if (i < 0) return { runs, traces: seen.size, failed };
  }
}
