// The public API for exploring a concurrent algorithm on slabsim's machine: a model
// sets up shared state in simulated memory, gives each CPU a program written with the
// shared-memory primitives of src/shm/atomic.ts (every access a schedule point), and
// says what must hold. docs/explore.md is the guide.
import { PROFILES, type Profile } from '../config.js';
import { ModelError, RaceViolation } from '../errors.js';
import type { Cpu } from '../mm/cpu.js';
import { isMemoryModel, MEMORY_MODELS, type MemoryModel } from '../sched/memory_model.js';
import { MAX_SCHEDULED_CPUS } from '../sched/schedule.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';

/** One instance of a model, built fresh for every run by {@link Model.create}. */
export interface Instance {
  /**
   * The program of one CPU: a generator function that reaches shared memory only through
   * the primitives (`yield* load32(m, w, S)`, `yield* cas64(...)`, ...). To report a
   * broken property from inside a program, call {@link violated}; any other exception is
   * a bug of the model (`slabsim race` exits 2).
   */
  thread(cpu: Cpu): Step<unknown>;
  /**
   * Checked after every step, with the words the step changed: a violated invariant, or
   * null. Keep it cheap (look only at what `written` names).
   */
  stepCheck?(written: readonly number[]): string | null;
  /** Checked when every program has finished: the violated properties (none: []). */
  finalCheck?(): string[];
  /** The final state in a few words, for the table of distinct outcomes (default `ok`). */
  outcome?(): string;
  /** The nested operation an interrupt runs on `cpu`, if the model has interrupts. */
  irq?(cpu: Cpu): Step<unknown>;
}

/** A concurrent algorithm to explore: its machine, its programs and its checks. */
export interface Model {
  /** Names the model in reports and schedule strings: letters, digits, `.`, `_`, `-`, `+` (litmus test names). */
  name: string;
  /** One line: what races against what. */
  doc: string;
  /** Simulated CPUs, one program each (1 to 52). */
  cpus: number;
  /**
   * Other CPU counts the model works with, `[min, max]` (`slabsim stress --cpus N`,
   * `withCpus()`): its create() and checks then read `cpus.length`. Default: `cpus` only.
   */
  cpuRange?: readonly [number, number];
  /** Bytes of simulated memory for one run (default 256 KiB, at least 256 KiB). */
  memory?: number;
  /** NUMA nodes of its machine (default 1). */
  nodes?: number;
  /** Chance of an interrupt at each interruption point (needs {@link Instance.irq}). */
  irqRate?: number;
  /** The kernel profiles whose SLUB the model runs: explored once per profile. Absent: once. */
  profiles?: readonly Profile[];
  /** The mutants this model can expose (for `slabsim list`). */
  mutants?: readonly string[];
  /** Broken by design (a model shown failing): explored only when named, never by `all`. */
  broken?: boolean;
  /** Steps one run may take before it is reported as a possible livelock (default 100,000). */
  maxSteps?: number;
  /**
   * The memory mode the model is explored in unless told otherwise (`--memory-model`,
   * `memoryModel` in explore()): `sc` (the default), `tso`, `arm` or `js`
   * (docs/memory-models.md).
   */
  memoryModel?: MemoryModel;
  /** The file that defined the model (set by {@link defineModel}), for replay commands and workers. */
  source?: string;
  /**
   * Optional: the part of the set-up every run shares, done once per machine and
   * profile; each run then starts from a copy of the machine as it left it (much cheaper
   * than doing it again). Put only simulated memory in that state, and return what
   * create() needs to know of it (plain data, which create() must not change).
   */
  prepare?(m: Machine, cpus: Cpu[], profile: Profile): unknown;
  /**
   * Set up a fresh machine for one run and return the instance: free-running code,
   * nothing runs concurrently yet. Must be deterministic (no Math.random, no clock):
   * a schedule replays only if every run starts from the same state. `prepared` is what
   * prepare() returned, when the model has one.
   */
  create(m: Machine, cpus: Cpu[], profile: Profile, prepared?: unknown): Instance;
}

/** What {@link defineModel} takes: a {@link Model} whose `doc` may be left out. */
export type ModelSpec = Omit<Model, 'doc' | 'source'> & {
  /** One line: what races against what (default empty). */
  doc?: string;
};

/** Most simulated CPUs a model may have: one schedule letter each. */
export const MAX_MODEL_CPUS = MAX_SCHEDULED_CPUS;
export const MIN_MODEL_MEMORY = 256 << 10;
export const MAX_MODEL_MEMORY = 64 << 20;

/**
 * Check a model's shape and return it typed, remembering the file that defined it (so a
 * failure can print the command that replays it). Throws a ModelError that names the
 * field and what was expected.
 *
 * @example
 * export default defineModel({
 *   name: 'flag-handoff',
 *   cpus: 2,
 *   create(m) {
 *     const flag = word(m, alloc(m, 8));
 *     return {
 *       *thread(cpu) { ... },
 *       finalCheck: () => [],
 *     };
 *   },
 * });
 */
export function defineModel(spec: ModelSpec): Model {
  const model = checkModel(spec, 'model');
  return { ...model, source: model.source ?? callerFile(defineModel) };
}

/** Check that `x` is a model (the same checks as defineModel); `where` prefixes every message. */
export function checkModel(x: unknown, where: string): Model {
  const bad = (what: string): never => {
    throw new ModelError(`${where}: ${what}`);
  };
  if (typeof x !== 'object' || x === null) bad(`expected a model object (from defineModel()), got ${describe(x)}`);
  const o = x as Record<string, unknown>;
  const name = o.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._+-]{1,64}$/.test(name))
    bad(`name must be 1 to 64 letters, digits, '.', '_', '-' or '+', got ${describe(name)}`);
  const at = `${where} '${String(name)}'`;
  const field = (key: string, ok: boolean, expected: string): void => {
    if (!ok) throw new ModelError(`${at}: ${key} must be ${expected}, got ${describe(o[key])}`);
  };
  const int = (v: unknown, lo: number, hi: number): boolean => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  field('cpus', int(o.cpus, 1, MAX_MODEL_CPUS), `an integer from 1 to ${MAX_MODEL_CPUS}`);
  const range = o.cpuRange as unknown[] | undefined;
  field(
    'cpuRange',
    range === undefined ||
      (Array.isArray(range) &&
        range.length === 2 &&
        int(range[0], 1, MAX_MODEL_CPUS) &&
        int(range[1], range[0] as number, MAX_MODEL_CPUS) &&
        (o.cpus as number) >= (range[0] as number) &&
        (o.cpus as number) <= (range[1] as number)),
    `[min, max] with 1 <= min <= cpus <= max <= ${MAX_MODEL_CPUS}`,
  );
  field('create', typeof o.create === 'function', 'a function (m, cpus, profile) => instance');
  field('prepare', o.prepare === undefined || typeof o.prepare === 'function', 'a function (m, cpus, profile) => data');
  field('doc', o.doc === undefined || typeof o.doc === 'string', 'a string');
  field(
    'memory',
    o.memory === undefined || (int(o.memory, MIN_MODEL_MEMORY, MAX_MODEL_MEMORY) && (o.memory as number) % 4096 === 0),
    `a multiple of 4096 from ${MIN_MODEL_MEMORY} to ${MAX_MODEL_MEMORY} bytes`,
  );
  field('nodes', o.nodes === undefined || int(o.nodes, 1, Math.min(8, o.cpus as number)), 'an integer from 1 to min(8, cpus)');
  field(
    'irqRate',
    o.irqRate === undefined || (typeof o.irqRate === 'number' && o.irqRate >= 0 && o.irqRate <= 1),
    'a number from 0 to 1',
  );
  field('maxSteps', o.maxSteps === undefined || int(o.maxSteps, 1, 1e9), 'an integer from 1 to 10^9');
  field(
    'profiles',
    o.profiles === undefined ||
      (Array.isArray(o.profiles) && o.profiles.length > 0 && o.profiles.every((p) => PROFILES.includes(p))),
    `a non-empty list of ${PROFILES.join(', ')}`,
  );
  field(
    'mutants',
    o.mutants === undefined || (Array.isArray(o.mutants) && o.mutants.every((s) => typeof s === 'string')),
    'a list of names',
  );
  field('broken', o.broken === undefined || typeof o.broken === 'boolean', 'a boolean');
  field('memoryModel', o.memoryModel === undefined || isMemoryModel(o.memoryModel), `one of ${MEMORY_MODELS.join(', ')}`);
  return typeof o.doc === 'string' ? (o as unknown as Model) : { ...(o as unknown as Model), doc: '' };
}

/** Check what {@link Model.create} returned before the first run uses it. */
export function checkInstance(model: Model, inst: unknown): Instance {
  const at = `model '${model.name}': create() returned`;
  if (typeof inst !== 'object' || inst === null)
    throw new ModelError(`${at} ${describe(inst)}, expected an instance { thread, finalCheck? }`);
  const o = inst as Record<string, unknown>;
  if (typeof o.thread !== 'function')
    throw new ModelError(`${at} an instance whose thread is ${describe(o.thread)}, expected a generator function`);
  for (const key of ['stepCheck', 'finalCheck', 'outcome', 'irq']) {
    if (o[key] !== undefined && typeof o[key] !== 'function')
      throw new ModelError(`${at} an instance whose ${key} is ${describe(o[key])}, expected a function`);
  }
  return inst as Instance;
}

/** The model on `n` CPUs: a ModelError unless `n` is within its cpuRange (or is its `cpus`). */
export function withCpus(model: Model, n: number): Model {
  if (n === model.cpus) return model;
  const [lo, hi] = model.cpuRange ?? [model.cpus, model.cpus];
  if (!Number.isInteger(n) || n < lo || n > hi)
    throw new ModelError(
      `model '${model.name}' runs on ${lo === hi ? `${lo} CPUs` : `${lo} to ${hi} CPUs`}, not ${n}${model.cpuRange ? '' : ' (a model that works with others says so in cpuRange)'}`,
    );
  return { ...model, cpus: n };
}

/**
 * Report a broken property from inside a model's program or check: the run fails with
 * this message (a finding, exit 1), unlike any other exception (a bug of the model).
 */
export function violated(message: string): never {
  throw new RaceViolation(message);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? (v === null ? 'null' : 'an object') : `${typeof v} ${String(v)}`;
}

interface CallSite {
  getFileName(): string | null | undefined;
}

/** The file of the function that called `fn` (V8 stack API), as a path; undefined where unknown. */
function callerFile(fn: (...args: never[]) => unknown): string | undefined {
  const E = Error as unknown as {
    prepareStackTrace?: (e: Error, sites: CallSite[]) => unknown;
    captureStackTrace?: (holder: object, fn: unknown) => void;
  };
  if (typeof E.captureStackTrace !== 'function') return undefined;
  const saved = E.prepareStackTrace;
  try {
    E.prepareStackTrace = (_e, sites) => sites;
    const holder: { stack?: unknown } = {};
    E.captureStackTrace(holder, fn);
    const file = (holder.stack as CallSite[] | undefined)?.[0]?.getFileName();
    if (!file) return undefined;
    return file.startsWith('file://') ? decodeURIComponent(new URL(file).pathname) : file;
  } catch {
    return undefined;
  } finally {
    E.prepareStackTrace = saved;
  }
}
