// A litmus test as a race model: each Pn function becomes a CPU's program that reaches
// the shared locations only through the explorer's primitives (src/shm/atomic.ts), so it
// runs on the same engine, in the same memory modes, as every other model. Registers
// are the program's own JS values; only shared accesses are schedule points.
import { ModelError } from '../errors.js';
import { type Model } from '../race/model.js';
import { alloc, word } from '../race/memory.js';
import { MAX_SCHEDULED_CPUS } from '../sched/schedule.js';
import { site, type Step } from '../sched/step.js';
import {
  add32,
  add32Acquire,
  add32Relaxed,
  add32Release,
  cmpxchg32,
  cmpxchg32Acquire,
  cmpxchg32Relaxed,
  cmpxchg32Release,
  fence,
  load32,
  loadAcquire32,
  spinLock,
  spinTrylock,
  spinUnlock,
  store32,
  storeRelease32,
  xchg32,
  xchg32Acquire,
  xchg32Relaxed,
  xchg32Release,
} from '../shm/atomic.js';
import type { Machine } from '../shm/machine.js';
import type { At, Expr, LitmusTest, PrimOp, Stmt } from './ast.js';

/** Steps (shared accesses) one execution may take before a P function counts as never ending. */
export const STEP_BOUND = 5_000;
/** Statements one P function may run in one execution, shared accesses or not. */
export const LOCAL_BOUND = 100_000;

/** What one execution left behind: enough to tell executions apart and to print its final state. */
export interface ExecutionRecord {
  /** per thread, every value its shared reads returned, in program order (its reads-from), each followed by `,` */
  reads: string[];
  /**
   * per location, the values it took in memory, in order (its coherence order: stores of
   * the value a location already holds are not told apart)
   */
  writes: string[];
  /** the CPUs that took a lock, in order, as `location:cpu,` */
  locks: string;
  /** per thread, its registers when it finished */
  regs: Map<string, number>[];
  /** per location, its value at the end (after every buffer drained) */
  final: number[];
  /** per thread, the statement it ran last (where a P function that never ends is) */
  at: (At | null)[];
  /** per thread, it finished */
  done: boolean[];
}

/** A litmus test's model, and where each execution's record appears. */
export interface LitmusModel {
  model: Model;
  /** the record of the last execution run (reset by each run's create()) */
  last(): ExecutionRecord;
}

/** A model name from a test name: herd's names have `+`, which schedule strings do not take. */
const modelName = (name: string): string => `litmus-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 64);

export function litmusModel(test: LitmusTest): LitmusModel {
  if (test.threads.length > MAX_SCHEDULED_CPUS)
    throw new ModelError(`${test.file}: ${test.threads.length} threads; slabsim runs at most ${MAX_SCHEDULED_CPUS}`);
  const locIndex = new Map(test.locations.map((l, i) => [l.name, i]));
  // Site names: the primitive and its line, so that traces point into the file.
  const sites = new Map<Expr | Stmt, number>();
  const siteOf = (node: Expr | Stmt, name: string): number => {
    let s = sites.get(node);
    if (s === undefined) sites.set(node, (s = site(`${name}:${node.at.line}`)));
    return s;
  };
  let rec: ExecutionRecord = emptyRecord(test);

  const model: Model = {
    name: modelName(test.name),
    doc: `litmus test ${test.name} (${test.file})`,
    cpus: test.threads.length,
    maxSteps: STEP_BOUND,
    create(m: Machine) {
      rec = emptyRecord(test);
      const base = word(m, alloc(m, 4 * Math.max(1, test.locations.length), 64));
      const words = test.locations.map((_, i) => base + i);
      const locOf = new Map(words.map((w, i) => [w, i]));
      test.locations.forEach((l, i) => (m.u32[words[i]] = l.init));
      const r = rec;
      return {
        thread: (cpu) => run(m, cpu.id),
        stepCheck(written) {
          for (const w of written) {
            const i = locOf.get(w);
            if (i !== undefined) r.writes[i] += `${m.u32[w] | 0},`;
          }
          return null;
        },
        finalCheck() {
          r.final = words.map((w) => m.u32[w] | 0);
          return [];
        },
      };

      function* run(mm: Machine, tid: number): Step<void> {
        const th = test.threads[tid];
        const regs = new Map<string, number>(th.regs.map((name) => [name, test.regInit.get(`${tid}:${name}`) ?? 0]));
        const cx: Ctx = { m: mm, tid, regs, budget: LOCAL_BOUND, words, locIndex, rec: r, siteOf, test, model: model.name };
        yield* exec(cx, th.body);
        r.regs[tid] = regs;
        r.done[tid] = true;
      }
    },
  };
  return { model, last: () => rec };
}

function emptyRecord(test: LitmusTest): ExecutionRecord {
  return {
    reads: test.threads.map(() => ''),
    writes: test.locations.map(() => ''),
    locks: '',
    regs: test.threads.map(() => new Map()),
    final: [],
    at: test.threads.map(() => null),
    done: test.threads.map(() => false),
  };
}

/** One thread's state during one execution. */
interface Ctx {
  m: Machine;
  tid: number;
  regs: Map<string, number>;
  /** statements left before the thread counts as never ending */
  budget: number;
  words: number[];
  locIndex: Map<string, number>;
  rec: ExecutionRecord;
  siteOf: (node: Expr | Stmt, name: string) => number;
  test: LitmusTest;
  /** the model's name */
  model: string;
}

/** A bad test, found while running it: one line with where (named for its model, so passed on as it is). */
function fail(cx: Ctx, at: At, msg: string): never {
  throw new ModelError(`${cx.test.file}:${at.line}:${at.col}: ${msg}`, cx.model);
}

function* exec(cx: Ctx, stmts: readonly Stmt[]): Step<void> {
  for (const s of stmts) {
    cx.rec.at[cx.tid] = s.at;
    if (--cx.budget < 0) fail(cx, s.at, `P${cx.tid} does not end within ${LOCAL_BOUND} statements (a loop that never exits?)`);
    switch (s.k) {
      case 'decl':
        if (s.init) cx.regs.set(s.name, yield* evaluate(cx, s.init));
        break;
      case 'assign':
        cx.regs.set(s.name, yield* evaluate(cx, s.e));
        break;
      case 'store':
        yield* access(cx, s, { op: 'store', order: 'once' }, s.loc, [yield* evaluate(cx, s.e)], '*store');
        break;
      case 'expr':
        yield* evaluate(cx, s.e);
        break;
      case 'if':
        yield* exec(cx, (yield* evaluate(cx, s.c)) !== 0 ? s.then : s.else);
        break;
      case 'while':
        while ((yield* evaluate(cx, s.c)) !== 0) {
          if (--cx.budget < 0)
            fail(cx, s.at, `P${cx.tid} does not end within ${LOCAL_BOUND} statements (a loop that never exits?)`);
          yield* exec(cx, s.body);
          cx.rec.at[cx.tid] = s.at;
        }
        break;
    }
  }
}

function* evaluate(cx: Ctx, e: Expr): Step<number> {
  switch (e.k) {
    case 'num':
      return e.v;
    case 'reg':
      return cx.regs.get(e.name) ?? 0;
    case 'deref':
      return yield* access(cx, e, { op: 'load', order: 'once' }, e.loc, [], '*load');
    case 'call': {
      const args: number[] = [];
      for (const a of e.args) args.push(yield* evaluate(cx, a));
      return yield* access(cx, e, e.prim, e.loc, args, e.name);
    }
    case 'un': {
      const v = yield* evaluate(cx, e.e);
      return e.op === '-' ? -v | 0 : e.op === '!' ? Number(v === 0) : e.op === '~' ? ~v : v;
    }
    case 'cond':
      return (yield* evaluate(cx, e.c)) !== 0 ? yield* evaluate(cx, e.a) : yield* evaluate(cx, e.b);
    case 'bin': {
      const a = yield* evaluate(cx, e.a);
      if (e.op === '&&') return a === 0 ? 0 : Number((yield* evaluate(cx, e.b)) !== 0);
      if (e.op === '||') return a !== 0 ? 1 : Number((yield* evaluate(cx, e.b)) !== 0);
      const b = yield* evaluate(cx, e.b);
      return binary(cx, e, a, b);
    }
  }
}

/** C's integer operators on 32-bit values. */
function binary(cx: Ctx, e: Expr & { k: 'bin' }, a: number, b: number): number {
  switch (e.op) {
    case '+':
      return (a + b) | 0;
    case '-':
      return (a - b) | 0;
    case '*':
      return Math.imul(a, b);
    case '/':
    case '%':
      if (b === 0) fail(cx, e.at, `division by zero`);
      return e.op === '/' ? (a / b) | 0 : (a % b) | 0;
    case '&':
      return a & b;
    case '|':
      return a | b;
    case '^':
      return a ^ b;
    case '<<':
      return a << b;
    case '>>':
      return a >> b;
    case '==':
      return Number(a === b);
    case '!=':
      return Number(a !== b);
    case '<':
      return Number(a < b);
    case '<=':
      return Number(a <= b);
    case '>':
      return Number(a > b);
    case '>=':
      return Number(a >= b);
  }
  return fail(cx, e.at, `operator ${e.op} is outside the subset`);
}

/** The kernel's four orderings of an RMW (linux-kernel.def: mb, once, acquire, release), as the engine's primitives. */
const XCHG = { mb: xchg32, once: xchg32Relaxed, acquire: xchg32Acquire, release: xchg32Release };
const CMPXCHG = { mb: cmpxchg32, once: cmpxchg32Relaxed, acquire: cmpxchg32Acquire, release: cmpxchg32Release };
const ADD = { mb: add32, once: add32Relaxed, acquire: add32Acquire, release: add32Release };

/**
 * One kernel primitive on shared location `loc`, carried out by the engine's primitive
 * that models it (docs/litmus.md has the table). Returns its value (0 for a statement).
 */
function* access(cx: Ctx, node: Expr | Stmt, p: PrimOp, loc: string, args: number[], name: string): Step<number> {
  try {
    return yield* primitive(cx, node, p, loc, args, name);
  } catch (e) {
    // A primitive the memory mode lacks: named with the line that calls it.
    if (e instanceof ModelError)
      fail(cx, node.at, `${name === '*load' || name === '*store' ? 'a plain access' : `${name}()`}: ${e.message}`);
    throw e;
  }
}

function* primitive(cx: Ctx, node: Expr | Stmt, p: PrimOp, loc: string, args: number[], name: string): Step<number> {
  const { m } = cx;
  const w = loc ? cx.words[cx.locIndex.get(loc) ?? -1] : -1;
  const s = cx.siteOf(node, name);
  const read = (v: number): number => {
    cx.rec.reads[cx.tid] += `${v},`;
    return v;
  };
  switch (p.op) {
    case 'load':
      return read((yield* (p.order === 'acquire' ? loadAcquire32 : load32)(m, w, s)) | 0);
    case 'store':
      yield* (p.order === 'release' ? storeRelease32 : store32)(m, w, args[0], s);
      if (p.mbAfter) yield* fence(m, 'mb', s);
      return 0;
    case 'fence':
      if (p.kind !== 'compiler') yield* fence(m, p.kind, s);
      return 0;
    case 'xchg':
      return read((yield* XCHG[p.order](m, w, args[0], s)) | 0);
    case 'cmpxchg':
      return read((yield* CMPXCHG[p.order](m, w, args[0], args[1], s)) | 0);
    case 'add': {
      const delta = p.sign * (args.length ? args[0] : 1); // atomic_inc/dec: 1
      const old = read((yield* ADD[p.order](m, w, delta, s)) | 0);
      const now = (old + delta) | 0;
      return p.ret === 'old'
        ? old
        : p.ret === 'new'
          ? now
          : p.ret === 'zero'
            ? Number(now === 0)
            : p.ret === 'negative'
              ? Number(now < 0)
              : 0;
    }
    case 'lock':
      yield* spinLock(m, w, s);
      cx.rec.locks += `${loc}:${cx.tid},`;
      return 0;
    case 'unlock':
      yield* spinUnlock(m, w, s);
      return 0;
    case 'trylock': {
      const ok = yield* spinTrylock(m, w, s);
      if (ok) cx.rec.locks += `${loc}:${cx.tid},`;
      return read(Number(ok));
    }
  }
}
