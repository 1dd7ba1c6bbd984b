// Run a litmus test: enumerate every execution of it on the explorer (DFS with no bound,
// every choice the memory mode offers), and judge its condition as herd7 does.
//
// What counts as one execution: herd counts candidate executions, one per choice of
// reads-from and coherence order. The analogue here is one per distinct (values each
// thread's reads returned, values each location took in order, order of lock
// acquisitions); many interleavings give the same execution and are counted once.
import { ModelError } from '../errors.js';
import { runRace } from '../race/run.js';
import { OP } from '../sched/event.js';
import type { MemoryModel } from '../sched/memory_model.js';
import { schedBus } from '../shm/atomic.js';
import { exploreDfs } from '../sched/strategies/dfs.js';
import type { RunView, StepEvent, Strategy } from '../sched/scheduler.js';
import type { Trial } from '../sched/strategies/record.js';
import type { LitmusTest, Prop, Rloc } from './ast.js';
import { type ExecutionRecord, litmusModel, STEP_BOUND } from './model.js';
import { rlocText } from './parse.js';

/** Schedules one test may take; a test that needs more is refused rather than half-explored. */
export const MAX_SCHEDULES = 2_000_000;

export type Kind = 'Allowed' | 'Forbidden' | 'Required';
export type Observation = 'Never' | 'Sometimes' | 'Always';

export interface LitmusResult {
  name: string;
  file: string;
  memoryModel: MemoryModel;
  /** herd's kind of the condition: exists Allowed, ~exists Forbidden, forall Required */
  kind: Kind;
  /** the registers and locations each state shows, as herd names them (`0:r0`, `[x]`) */
  shown: string[];
  /** the distinct final states, each the values of `shown`, sorted */
  states: number[][];
  /** the condition holds (exists: some execution; ~exists: none; forall: every one) */
  ok: boolean;
  /** executions whose final state satisfies the condition's proposition, and the others */
  pos: number;
  neg: number;
  /** the condition as herd prints it */
  condition: string;
  observation: Observation;
  /** distinct executions (pos + neg) */
  executions: number;
  /** schedules the explorer ran to find them */
  schedules: number;
  /** schedules that ended with every live CPU blocked on a lock (no execution) */
  blocked: number;
}

export interface LitmusOptions {
  /** the memory mode the test runs in (default sc) */
  memoryModel?: MemoryModel;
}

export function runLitmus(test: LitmusTest, opts: LitmusOptions = {}): LitmusResult {
  const memoryModel = opts.memoryModel ?? 'sc';
  const lm = litmusModel(test);
  const shown = shownRlocs(test);
  const seen = new Map<string, { state: number[]; holds: boolean }>();
  let schedules = 0;
  let blocked = 0;
  const cfg = { model: lm.model, profile: null, mutant: null, seed: 0, memoryModel };
  const visited = new Map<string, string>();
  const previous: string[] = [];
  const trial: Trial = (strategy) => {
    const pruning = new PruneVisited(
      strategy,
      visited,
      () => {
        const weak = schedBus.weak;
        return weak ? `${historyOf(lm.last())}#${weak.stateKey()}` : historyOf(lm.last());
      },
      previous,
    );
    let r: ReturnType<typeof runRace>;
    try {
      r = runRace(cfg, pruning);
    } catch (e) {
      pruning.end();
      if (e !== CUT) throw e;
      schedules++;
      // Every run from this state was explored from where it was first reached.
      return { failed: false, result: { outcome: 'ok', steps: 0, choices: pruning.choices, results: [] } };
    }
    pruning.end();
    schedules++;
    const { outcome } = r.result;
    if (outcome === 'budget' || outcome === 'livelock') throw neverEnds(test, lm.last());
    if (outcome === 'deadlock') {
      blocked++;
      // Not an execution (a lock never released): enumeration goes on past it.
      return { failed: false, result: { ...r.result, outcome: 'ok' } };
    }
    if (r.failed) throw new ModelError(`${test.file}: ${r.messages[0]}`);
    const rec = lm.last();
    if (test.filter && !holds(test, test.filter, rec)) return { failed: false, result: r.result };
    const key = historyOf(rec);
    if (!seen.has(key)) seen.set(key, { state: shown.map((s) => valueOf(test, s, rec)), holds: holds(test, test.cond, rec) });
    return { failed: false, result: r.result };
  };
  const dfs = exploreDfs(trial, { preemptionBound: Infinity, maxExecutions: MAX_SCHEDULES });
  if (!dfs.exhausted)
    throw new ModelError(
      `${test.file}: more than ${MAX_SCHEDULES} schedules; a litmus test this large is outside what slabsim enumerates`,
    );
  let pos = 0;
  let neg = 0;
  const states = new Map<string, number[]>();
  for (const { state, holds: h } of seen.values()) {
    if (h) pos++;
    else neg++;
    states.set(state.join(), state);
  }
  const kind: Kind = test.quantifier === 'exists' ? 'Allowed' : test.quantifier === '~exists' ? 'Forbidden' : 'Required';
  const ok = test.quantifier === 'exists' ? pos > 0 : test.quantifier === '~exists' ? pos === 0 : neg === 0;
  return {
    name: test.name,
    file: test.file,
    memoryModel,
    kind,
    shown: shown.map(rlocText),
    states: [...states.values()].sort(compareStates),
    ok,
    pos,
    neg,
    condition: `${test.quantifier} (${propText(test.cond)})`,
    observation: pos === 0 ? 'Never' : neg === 0 ? 'Always' : 'Sometimes',
    executions: pos + neg,
    schedules,
    blocked,
  };
}

/** What tells executions apart: the values read per thread, the values taken per location, the lock order. */
const historyOf = (rec: ExecutionRecord): string => `${rec.reads.join('|')}#${rec.writes.join('|')}#${rec.locks}`;

/** Thrown from a decision whose state was already reached by another schedule: the run stops there. */
const CUT = { cut: true };

/**
 * The DFS, less the schedules that reach a state some other schedule reached before
 * (stateful search over the explorer's stateless one: the programs are tiny, their
 * states few). A state is what decides everything after it: each CPU's steps so far,
 * the history the run has made (`history()`: the values read, the values each location
 * took, who took the locks; the same history means the same registers, memory and
 * execution so far; in a weaker mode also the store buffers, views and histories of
 * WeakMemory.stateKey()), and which CPUs can move (flushes included). The choice of a
 * load's value is a decision too (pickRead). The decisions DFS replays from the
 * previous run are not looked at: their states were recorded by the run that made them.
 */
class PruneVisited implements Strategy {
  readonly name = 'dfs';
  /** the choices made so far this run */
  readonly choices: number[] = [];
  /** this run's decisions so far, as tokens, and as one string */
  private readonly path: string[] = [];
  private pathText = '';
  private readonly steps: number[] = [];
  /** still on the previous run's path: DFS replays a prefix of it, whose states are known */
  private replaying = true;
  constructor(
    private readonly inner: Strategy,
    /** state -> the decisions that first reached it */
    private readonly visited: Map<string, string>,
    private readonly history: () => string,
    /** the previous run's decisions (this run's, once it ends) */
    private readonly previous: string[],
  ) {}
  begin(run: RunView): void {
    this.steps.length = run.cpus;
    this.steps.fill(0);
    this.inner.begin?.(run);
  }
  onStep(step: StepEvent): void {
    if (step.op !== OP.FLUSH) this.steps[step.cpu]++; // a flush is no step of the program (the buffers are in stateKey)
    this.inner.onStep?.(step);
  }
  pickRead(cpu: number, k: number, picked: boolean): number {
    const read = this.inner.pickRead?.(cpu, k, picked) ?? 0;
    this.token(`~${read}`);
    return read;
  }
  pick(runnable: readonly number[], last: number, step: number): number {
    if (!this.replaying) {
      const state = `${this.steps.join()}/${runnable.join()}/${this.history()}`;
      const first = this.visited.get(state);
      if (first === undefined) this.visited.set(state, this.pathText);
      else if (first !== this.pathText) throw CUT;
    }
    const choice = this.inner.pick(runnable, last, step);
    this.choices.push(choice);
    this.token(String(choice));
    return choice;
  }
  private token(t: string): void {
    const d = this.path.length;
    this.path.push(t);
    this.pathText += `${t},`;
    if (this.replaying && this.previous[d] !== t) this.replaying = false;
  }
  /** Keep this run's decisions for the next run. */
  end(): void {
    this.previous.length = 0;
    this.previous.push(...this.path);
  }
}

function compareStates(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** What each state shows, in herd's order: registers by thread and name, then locations by name. */
function shownRlocs(test: LitmusTest): Rloc[] {
  const all = new Map<string, Rloc>();
  const add = (r: Rloc): void => {
    all.set(rlocText(r), r);
  };
  for (const r of test.show) add(r);
  const walk = (p: Prop): void => {
    if (p.k === 'atom') add(p.rloc);
    else if (p.k === 'not') walk(p.p);
    else if (p.k === 'and' || p.k === 'or') p.ps.forEach(walk);
    else if (p.k === 'implies') {
      walk(p.a);
      walk(p.b);
    }
  };
  walk(test.cond);
  return [...all.values()].sort((a, b) => {
    if (a.k !== b.k) return a.k === 'reg' ? -1 : 1;
    if (a.k === 'reg' && b.k === 'reg' && a.thread !== b.thread) return a.thread - b.thread;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

function valueOf(test: LitmusTest, r: Rloc, rec: ExecutionRecord): number {
  if (r.k === 'reg') return rec.regs[r.thread].get(r.name) ?? 0;
  return rec.final[test.locations.findIndex((l) => l.name === r.name)];
}

function holds(test: LitmusTest, p: Prop, rec: ExecutionRecord): boolean {
  switch (p.k) {
    case 'atom':
      return valueOf(test, p.rloc, rec) === p.value;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !holds(test, p.p, rec);
    case 'and':
      return p.ps.every((q) => holds(test, q, rec));
    case 'or':
      return p.ps.some((q) => holds(test, q, rec));
    case 'implies':
      return !holds(test, p.a, rec) || holds(test, p.b, rec);
  }
}

/** herd's printing of a proposition (lib/constrGen.ml: parentheses only where precedence needs them). */
export function propText(p: Prop, above: PropOp = 'top'): string {
  const paren = (here: PropOp, s: string): string => (needsParen(above, here) ? `(${s})` : s);
  switch (p.k) {
    case 'atom':
      return `${rlocText(p.rloc)}=${p.value}`;
    case 'true':
      return 'true';
    case 'false':
      return 'false';
    case 'not':
      return `not (${propText(p.p)})`;
    case 'and':
      return paren('and', p.ps.map((q) => propText(q, 'and')).join(' /\\ '));
    case 'or':
      return paren('or', p.ps.map((q) => propText(q, 'or')).join(' \\/ '));
    case 'implies':
      return paren('implies', `${propText(p.a, 'implies')} => ${propText(p.b, 'implies')}`);
  }
}

type PropOp = 'top' | 'and' | 'or' | 'implies';

/** herd's is_paren: a conjunction inside a disjunction needs none, anything else mixed does. */
const needsParen = (above: PropOp, here: PropOp): boolean =>
  above === 'top' ? false : above === 'implies' ? here !== 'implies' : above === 'and' ? here !== 'and' : here === 'implies';

/** The one-line report of a P function that did not end within the step bound. */
function neverEnds(test: LitmusTest, rec: ExecutionRecord): ModelError {
  const tid = Math.max(0, rec.done.indexOf(false));
  const at = rec.at[tid];
  const where = at ? `${test.file}:${at.line}:${at.col}` : test.file;
  return new ModelError(`${where}: P${tid} does not end within ${STEP_BOUND} steps (a loop that never exits?)`);
}
