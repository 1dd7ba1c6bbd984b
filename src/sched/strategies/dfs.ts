// Bounded exhaustive search: stateless model checking by re-execution with a preemption
// bound (Musuvathi & Qadeer, "Iterative context bounding for systematic testing of
// multithreaded programs", PLDI 2007; the same search loom and CHESS run). Each execution
// replays a forced prefix and then never preempts; backtracking takes the deepest
// decision with an untried runnable CPU whose choice keeps the preemptions within the
// bound. Spinning does not multiply the search: a CPU waiting on a lock is BLOCKed, hence
// not runnable, and the bound limits every other retry loop.
import { SlabError } from '../../errors.js';
import type { ScheduleResult, Strategy } from '../scheduler.js';
import { countPreemptions, type Decision, isPreemption, judge, RecordingStrategy, stayOrLowest, type Trial } from './record.js';

export interface DfsOptions {
  /** most preemptions per execution (Infinity: every interleaving) */
  preemptionBound: number;
  /** stop after this many executions (the report then says not exhausted) */
  maxExecutions?: number;
  /** called once after the first execution, with estimateDfs of it: print it before a long search */
  onEstimate?: (executions: number) => void;
  /** asked before every execution but the first: true ends the search (not exhausted) */
  shouldStop?: () => boolean;
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
}

/** One decision on the current path, with the alternatives already run. */
interface Frame extends Decision {
  choice: number;
  tried: number[];
  /** preemptions up to and including this decision */
  preemptions: number;
}

/** Replays the prefix strictly (a differing run means the trial is not deterministic), then never preempts. */
class PrefixStrategy implements Strategy {
  readonly name = 'dfs';
  private i = 0;
  constructor(private readonly prefix: readonly number[]) {}
  pick(runnable: readonly number[], last: number): number {
    const i = this.i++;
    if (i >= this.prefix.length) return stayOrLowest(runnable, last);
    if (!runnable.includes(this.prefix[i])) nondeterministic(i);
    return this.prefix[i];
  }
}

function nondeterministic(decision: number): never {
  throw new SlabError('EINVAL', `dfs: decision ${decision + 1} differs from the previous run: the trial is not deterministic`);
}

/** Enumerate the distinct schedules of `trial` with at most `preemptionBound` preemptions. */
export function exploreDfs(trial: Trial, opts: DfsOptions): DfsReport {
  const bound = opts.preemptionBound;
  const maxExecutions = opts.maxExecutions ?? 100_000;
  const stack: Frame[] = [];
  let prefix: number[] = [];
  let estimate = 0;
  for (let executions = 1; executions <= maxExecutions; executions++) {
    if (executions > 1 && opts.shouldStop?.()) return { executions: executions - 1, exhausted: false, estimate };
    const rec = new RecordingStrategy(new PrefixStrategy(prefix));
    const v = judge(trial(rec));
    extend(stack, rec.decisions, prefix.length);
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
      return { executions, exhausted: false, estimate, failure };
    }
    const next = backtrack(stack, bound);
    if (next === undefined) return { executions, exhausted: true, estimate };
    prefix = next;
  }
  return { executions: maxExecutions, exhausted: false, estimate };
}

/** Check the replayed prefix saw the same runnable sets, then push the new decisions. */
function extend(stack: Frame[], decisions: readonly Decision[], forced: number): void {
  if (decisions.length < forced) nondeterministic(decisions.length);
  for (let i = 0; i < forced; i++) if (decisions[i].runnable.join() !== stack[i].runnable.join()) nondeterministic(i);
  for (let i = forced; i < decisions.length; i++) {
    const d = decisions[i];
    const before = i > 0 ? stack[i - 1].preemptions : 0;
    const preemptions = before + (isPreemption(d.runnable, d.last, d.choice) ? 1 : 0);
    stack.push({ ...d, tried: [d.choice], preemptions });
  }
}

/** The next prefix: the deepest decision with an untried CPU within the bound, or undefined when exhausted. */
function backtrack(stack: Frame[], bound: number): number[] | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = stack[i];
    const before = i > 0 ? stack[i - 1].preemptions : 0;
    for (const alt of f.runnable) {
      if (f.tried.includes(alt)) continue;
      const preemptions = before + (isPreemption(f.runnable, f.last, alt) ? 1 : 0);
      if (preemptions > bound) continue;
      f.tried.push(alt);
      f.choice = alt;
      f.preemptions = preemptions;
      stack.length = i + 1;
      return stack.map((x) => x.choice);
    }
  }
  return undefined;
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
