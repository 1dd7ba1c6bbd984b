// One run of a race model: bring its machine to the starting state, set it up, run its
// programs under a strategy, check. The schedule string names everything a replay needs.
import { type Profile, PROFILES } from '../config.js';
import { isFinding, ModelError, SlabError } from '../errors.js';
import { type Cpu, makeCpu, resetCpu } from '../mm/cpu.js';
import { type MutantName, MUTANT_NAMES, mutantOn, setMutant } from '../mm/slub/mutants.js';
import { isMemoryModel, MEMORY_MODELS, type MemoryModel } from '../sched/memory_model.js';
import { decodeSchedule, decodeTokens, encodeSchedule, encodeTokens } from '../sched/schedule.js';
import { type Access, type ScheduleResult, type Strategy, type TraceStep, runScheduled } from '../sched/scheduler.js';
import { type BufferedStore, weakMemoryFor } from '../sched/weak.js';
import { thisCpu } from '../sched/this_cpu.js';
import { schedBus } from '../shm/atomic.js';
import { create, type Machine, type MachineImage, restore, snapshot, trackPages } from '../shm/machine.js';
import { checkInstance, type Instance, type Model } from './model.js';

export interface RaceConfig {
  model: Model;
  /** the kernel profile of the machine; null for a model that runs no kernel code (explored once) */
  profile: Profile | null;
  mutant: MutantName | null;
  /** seeds the data and the interrupts; the strategy has its own seed */
  seed: number;
  /** the memory mode (default: the model's own, else sc) */
  memoryModel?: MemoryModel;
}

/** The memory mode a run of `cfg` uses. */
export const memoryModelOf = (cfg: RaceConfig): MemoryModel => cfg.memoryModel ?? cfg.model.memoryModel ?? 'sc';

export interface RaceRun {
  failed: boolean;
  /** the violated checks, first the one that stopped the run */
  messages: string[];
  /** the final state in a few words, for the table of outcomes */
  outcome: string;
  steps: number;
  /** time spent inside the scheduler (the programs' steps), without setup and checks */
  schedMs: number;
  choices: number[];
  result: ScheduleResult;
  /** per step: CPU, site, and the accesses it made (when asked for) */
  trace?: TraceStep[];
  /** the machine the run used: valid until the next run of a model of the same shape */
  machine: Machine;
}

export interface RunOptions {
  /** record per step the CPU, its next site and its accesses */
  trace?: boolean;
  /** step limit of this run (default: the model's, else DEFAULT_MAX_STEPS) */
  maxSteps?: number;
  /** a machine of its own that no later run reuses (default: a reused one, restored) */
  freshMachine?: boolean;
  /**
   * Stop after this many steps and leave the machine as it is then (the viewer's "replay
   * to step k"): no final check, and the cut is no failure. A run that ends sooner ends
   * as usual.
   */
  stopAfter?: number;
  /**
   * Offer busy-waiting CPUs like any other (ScheduleOptions.unfair): for DPOR, which
   * decides for itself which CPUs may move. Its schedules replay as ordinary ones only
   * through the choices it records for fair scheduling (src/sched/dpor/).
   */
  unfair?: boolean;
  /**
   * Told of every plain access (`m.u32[w]` read or written) a CPU's step makes, the
   * primitives' own included: for DPOR, whose dependency must see the words two-way code
   * shares plainly (under a lock). `m.u32` is a Proxy for the run: slow, so only then.
   */
  onPlainAccess?: (write: boolean, word: number, changed: boolean) => void;
}

/** Race machines are small (64 pages): setup and the final checks scan every page of them. */
const DEFAULT_MEMORY = 256 << 10;
export const DEFAULT_MAX_STEPS = 100_000;
/** The machine of a model that runs no kernel code: the newest profile. */
const NEUTRAL_PROFILE: Profile = PROFILES[PROFILES.length - 1];

/** The models slabsim itself defines: whatever they throw is a finding. */
const builtIn = new WeakSet<Model>();
export const markBuiltIn = <M extends Model>(model: M): M => {
  builtIn.add(model);
  return model;
};

/** A machine kept for reuse: the image of its starting state, and what prepare() returned. */
interface Start {
  m: Machine;
  image: MachineImage | null;
  prepared: unknown;
  /** the CPUs of the last run on this machine, reset for the next (null: none yet, or a fresh machine) */
  cpus: Cpu[] | null;
}
/**
 * Models without prepare() share machines by shape; a model with prepare() has its own,
 * per profile and mutant (a mutant may change what the set-up code leaves behind).
 */
const byShape = new Map<string, Start>();
const byModel = new WeakMap<Model, Map<string, Start>>();

/**
 * A machine in its starting state (a new one, or a reused one restored), and what
 * prepare() returned. The run's mutant is on: set-up code runs with it, as the run does.
 */
function startingMachine(model: Model, profile: Profile, trusted: boolean, fresh: boolean): Start {
  const cfg = { cpus: model.cpus, nodes: model.nodes ?? 1, memory: model.memory ?? DEFAULT_MEMORY, profile };
  const start = (): Start => {
    const m = create(cfg);
    if (!fresh) trackPages(m);
    const prepared = model.prepare
      ? modelCode(model, trusted, 'prepare()', () => model.prepare?.(m, cpusOf(m, model, 0), profile))
      : undefined;
    return { m, image: fresh ? null : snapshot(m), prepared, cpus: null };
  };
  if (fresh) return start();
  const shape = `${cfg.cpus}:${cfg.nodes}:${cfg.memory}:${profile}`;
  const variant = `${profile}:${mutantOn() ?? 'none'}`;
  let perVariant = byModel.get(model);
  const saved = model.prepare ? perVariant?.get(variant) : byShape.get(shape);
  if (saved?.image) {
    restore(saved.m, saved.image);
    return saved;
  }
  const made = start();
  if (!model.prepare) byShape.set(shape, made);
  else {
    if (!perVariant) byModel.set(model, (perVariant = new Map()));
    perVariant.set(variant, made);
  }
  return made;
}

/** The simulated CPUs of one run: their random streams start from `seed`. */
const cpusOf = (m: Machine, model: Model, seed: number): Cpu[] =>
  Array.from({ length: model.cpus }, (_, i) => makeCpu(m, i, seed, model.irqRate ?? 0));

/** The run's CPUs: made once per kept machine, then reset (a run on a fresh machine makes its own). */
function runCpus(start: Start, model: Model, seed: number): Cpu[] {
  if (start.image === null || start.cpus === null || start.cpus.length !== model.cpus) {
    const made = cpusOf(start.m, model, seed);
    if (start.image !== null) start.cpus = made;
    return made;
  }
  for (const c of start.cpus) resetCpu(c, seed, model.irqRate ?? 0);
  return start.cpus;
}

export function runRace(cfg: RaceConfig, strategy: Strategy, opts: RunOptions = {}): RaceRun {
  const { model } = cfg;
  const trusted = builtIn.has(model);
  const profile = cfg.profile ?? NEUTRAL_PROFILE;
  setMutant(cfg.mutant);
  let m: Machine;
  let cpus: Cpu[];
  let inst: Instance;
  try {
    const start = startingMachine(model, profile, trusted, opts.freshMachine === true);
    m = start.m;
    cpus = runCpus(start, model, cfg.seed);
    inst = modelCode(model, trusted, 'create()', () => checkInstance(model, model.create(m, cpus, profile, start.prepared)));
  } catch (e) {
    setMutant(null);
    throw e;
  }
  const irq = inst.irq?.bind(inst);
  if (irq) for (const c of cpus) c.irq = irq;
  const mode = memoryModelOf(cfg);
  const weak = mode === 'sc' ? null : weakMemoryFor(m, mode);
  // Tracing: what each step read, wrote and swapped, then where the CPU stopped next.
  let pending: Access[] = [];
  const stepAccesses: Access[][] = [];
  const stepBuffers: BufferedStore[][][] = [];
  if (opts.trace)
    schedBus.trace = (kind, _site, word, value, ok, note) =>
      pending.push(
        note ? { kind: kind as Access['kind'], word, value, ok, ...note } : { kind: kind as Access['kind'], word, value, ok },
      );
  const check = inst.stepCheck?.bind(inst);
  // Trusted models' checks are called directly: this runs after every step.
  const stepCheck =
    check && (trusted ? check : (written: readonly number[]) => modelCode(model, false, 'stepCheck()', () => check(written)));
  let result: ScheduleResult;
  const unwatch = weak?.watchPlainAccesses();
  const realU32 = m.u32;
  const unrecord = opts.onPlainAccess ? recordPlainAccesses(m, opts.onPlainAccess) : null;
  const t0 = performance.now();
  try {
    const programs = cpus.map((c) => {
      const p = modelCode(model, trusted, 'thread()', () => inst.thread(c));
      if (typeof (p as Partial<Iterator<unknown>> | null)?.next !== 'function')
        throw new ModelError(
          `model '${model.name}': thread() must be a generator function (function* ...), it returned ${typeof p}`,
          model.name,
        );
      return p;
    });
    result = runScheduled(programs, strategy, {
      maxSteps: Math.min(opts.stopAfter ?? Infinity, opts.maxSteps ?? model.maxSteps ?? DEFAULT_MAX_STEPS),
      trace: opts.trace,
      unfair: opts.unfair,
      memory: realU32,
      weak,
      afterStep:
        opts.trace || stepCheck
          ? (_cpu, written) => {
              if (opts.trace) {
                stepAccesses.push(pending);
                pending = [];
                if (weak) stepBuffers.push(weak.snapshotBuffers());
              }
              const v = stepCheck?.(written);
              if (v) throw new SlabError('EINVAL', v);
            }
          : undefined,
    });
  } finally {
    setMutant(null);
    schedBus.trace = null;
    unwatch?.();
    unrecord?.();
  }
  const schedMs = performance.now() - t0;
  // A primitive the memory mode lacks is a model's fault, built-in or not (exit 2).
  if (result.outcome === 'error' && result.error instanceof ModelError && result.error.model === undefined)
    throw new ModelError(`model '${model.name}': ${result.error.message}`, model.name);
  if (result.outcome === 'error' && !trusted && !isFinding(result.error)) {
    const e = result.error as Error;
    if (e instanceof ModelError) throw e;
    const who = result.errorCpu === undefined ? 'stepCheck()' : `thread() of CPU${result.errorCpu}`;
    throw new ModelError(`model '${model.name}': ${who} threw ${e?.name ?? 'an error'}: ${e?.message ?? String(e)}`, model.name);
  }
  const trace = opts.trace ? withAccesses(result.trace ?? [], stepAccesses, weak ? stepBuffers : null) : undefined;
  // A run cut short on purpose (stopAfter, or by its strategy) is no failure and is not checked.
  if ((result.outcome === 'budget' && result.steps === opts.stopAfter) || result.outcome === 'halted') {
    const { steps, choices } = result;
    return {
      failed: false,
      messages: [],
      outcome: `cut after ${steps} steps`,
      steps,
      schedMs,
      choices,
      result,
      trace,
      machine: m,
    };
  }
  const messages: string[] = [];
  if (result.outcome !== 'ok') messages.push(result.message ?? result.outcome);
  const final = trusted ? trustedFinalCheck(inst) : modelCode(model, false, 'finalCheck()', () => inst.finalCheck?.() ?? []);
  for (const v of final) if (!messages.some((x) => x.endsWith(v))) messages.push(v);
  const failed = messages.length > 0;
  return {
    failed,
    messages,
    outcome: failed ? `FAILED: ${messages[0]}` : modelCode(model, trusted, 'outcome()', () => inst.outcome?.() ?? 'ok'),
    steps: result.steps,
    schedMs,
    choices: result.choices,
    result,
    trace,
    machine: m,
  };
}

/** A built-in model's final check: one that cannot run is itself a finding. */
function trustedFinalCheck(inst: Instance): string[] {
  try {
    return inst.finalCheck?.() ?? [];
  } catch (e) {
    return [`final check could not run: ${(e as Error).message}`];
  }
}

/**
 * Run a piece of a model's own code. A user model's ordinary exception is a bug of the
 * model, not a finding: it becomes a ModelError naming the piece (slabsim's own errors
 * and violated() pass through, as findings).
 */
function modelCode<T>(model: Model, trusted: boolean, what: string, f: () => T): T {
  if (trusted) return f();
  try {
    return f();
  } catch (e) {
    if (isFinding(e)) throw e;
    if (e instanceof ModelError) throw e.model === undefined ? new ModelError(e.message, model.name) : e;
    const err = e as Error;
    throw new ModelError(
      `model '${model.name}': ${what} threw ${err?.name ?? 'an error'}: ${err?.message ?? String(e)}`,
      model.name,
    );
  }
}

/** The trace steps with the accesses each made (and, in a weaker memory mode, the store buffers after it). */
function withAccesses(
  steps: readonly TraceStep[],
  accesses: readonly Access[][],
  buffers: readonly BufferedStore[][][] | null,
): TraceStep[] {
  return steps.map((t, i) => {
    const withBuffers = buffers?.[i] ? { ...t, buffers: buffers[i] } : t;
    return accesses[i]?.length ? { ...withBuffers, accesses: accesses[i] } : withBuffers;
  });
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** One access as a trace prints it: `load.acquire [12] 0x0 (stale: memory 0x1)`. */
function accessText(a: Access): string {
  const what = a.kind === 'fence' ? `fence ${a.order}` : `${a.kind}${a.order ? `.${a.order}` : ''} [${a.word}] ${hex(a.value)}`;
  const ok = a.ok === undefined ? '' : a.ok ? ' ok' : ' failed';
  const note = a.buffered
    ? ' (buffered)'
    : a.forwarded
      ? ' (from own buffer)'
      : a.stale !== undefined
        ? ` (stale: memory ${hex(a.stale)})`
        : '';
  return `${what}${ok}${note}`;
}

/** A CPU's store buffer, oldest first: `[12]=0x1 [13]=0x0 | [14]=0x2` (`|`: an smp_wmb between). */
function bufferText(b: readonly BufferedStore[]): string {
  return b
    .map((e, i) => `${i > 0 && e.epoch !== b[i - 1].epoch ? '| ' : ''}[${e.word}]=${hex(e.value)}${e.release ? ' rel' : ''}`)
    .join(' ');
}

/**
 * One line per step: the CPU, what it read or wrote, and the point where it stopped next.
 * In a weaker memory mode a flush step says which store reached memory, and a second
 * line lists the store buffers that are not empty after the step.
 */
export function traceLines(steps: readonly TraceStep[]): string[] {
  return steps.flatMap(traceStepLines);
}

/** The lines of step `i` in traceLines(): the step's, then its buffers' when one is not empty. */
export function traceStepLines(t: TraceStep, i: number): string[] {
  const did = t.accesses?.length ? `${t.accesses.map(accessText).join(', ')} ` : '';
  const state = t.blocked ? ' (blocked)' : t.spinning ? ' (spinning)' : '';
  const line = t.flush
    ? `${String(i).padStart(5)}  CPU${t.cpu}  ${did}(its store buffer to memory)`
    : `${String(i).padStart(5)}  CPU${t.cpu}  ${did}-> ${t.site}${state}`;
  const full = t.buffers?.flatMap((b, c) => (b.length ? [`CPU${c} ${bufferText(b)}`] : [])) ?? [];
  return full.length ? [line, `         buffers: ${full.join('; ')}`] : [line];
}

// ---- schedule strings: everything a replay needs, on one line ----

const VERSION = 'v1';
/** Schedules of the weaker memory modes: v1's fields, the mode, and tokens for choices. */
const VERSION_2 = 'v2';
/** The profile field of a schedule for a model that runs no kernel code. */
const NO_PROFILE = '-';

/** The schedule string of a run: v1 under sc (as always), v2 naming the mode otherwise. */
export function raceScheduleString(cfg: RaceConfig, choices: readonly number[]): string {
  const mode = memoryModelOf(cfg);
  const head = [cfg.model.name, cfg.profile ?? NO_PROFILE, cfg.mutant ?? 'none', String(cfg.seed)];
  if (mode !== 'sc') return [VERSION_2, ...head, mode, encodeTokens(cfg.model.cpus, choices)].join(':');
  const rle = encodeSchedule(cfg.model.cpus, choices).split('.').slice(2).join('.');
  return [VERSION, ...head, rle].join(':');
}

/** The parts of a schedule string, before its model is looked up. */
export interface ParsedSchedule {
  modelName: string;
  profile: Profile | null;
  mutant: MutantName | null;
  seed: number;
  /** the run-length encoded choices (v2: tokens) */
  rle: string;
  /** the memory mode (v1: sc) */
  memoryModel: MemoryModel;
}

export function parseScheduleString(text: string): ParsedSchedule {
  const parts = text.trim().split(':');
  const bad = (why: string) =>
    new SlabError(
      'EINVAL',
      `schedule '${text}': ${why} (expected ${VERSION}:<model>:<profile|->:<mutant|none>:<seed>:<choices>, or ${VERSION_2}:<model>:<profile|->:<mutant|none>:<seed>:<${MEMORY_MODELS.join('|')}>:<choices>)`,
    );
  const v2 = parts[0] === VERSION_2;
  if (!(parts.length === 6 && parts[0] === VERSION) && !(parts.length === 7 && v2)) throw bad('not a schedule of this version');
  const [, modelName, profile, mutant, seed] = parts;
  const mode = v2 ? parts[5] : 'sc';
  const rle = parts[parts.length - 1];
  if (!isMemoryModel(mode)) throw bad(`unknown memory model '${mode}'`);
  if (profile !== NO_PROFILE && !PROFILES.includes(profile as Profile)) throw bad(`unknown profile '${profile}'`);
  if (mutant !== 'none' && !MUTANT_NAMES.includes(mutant as MutantName)) throw bad(`unknown mutant '${mutant}'`);
  if (!/^\d+$/.test(seed)) throw bad(`bad seed '${seed}'`);
  return {
    modelName,
    profile: profile === NO_PROFILE ? null : (profile as Profile),
    mutant: mutant === 'none' ? null : (mutant as MutantName),
    seed: Number(seed),
    rle,
    memoryModel: mode,
  };
}

/** A schedule string against the models that may replay it: refused unless one of them is the model it names. */
export function parseRaceSchedule(text: string, models: readonly Model[]): { cfg: RaceConfig; choices: number[] } {
  const p = parseScheduleString(text);
  const model = models.find((m) => m.name === p.modelName);
  if (!model) {
    const names = models.map((m) => m.name);
    throw new SlabError(
      'EINVAL',
      `schedule is for model '${p.modelName}', which ${names.length === 1 ? `is not the model given ('${names[0]}')` : 'is none of the models given'}`,
    );
  }
  const independent = model.profiles === undefined;
  if (independent !== (p.profile === null) || (p.profile !== null && !model.profiles?.includes(p.profile)))
    throw new SlabError(
      'EINVAL',
      `schedule names profile '${p.profile ?? NO_PROFILE}', but model '${model.name}' ${independent ? 'runs no kernel profile (-)' : `runs on ${model.profiles?.join(', ')}`}`,
    );
  const choices = text.trim().startsWith(`${VERSION_2}:`)
    ? decodeTokens(model.cpus, p.rle, text.trim())
    : decodeSchedule(`s1.${model.cpus}.${p.rle}`).choices;
  return { cfg: { model, profile: p.profile, mutant: p.mutant, seed: p.seed, memoryModel: p.memoryModel }, choices };
}

/** Put a Proxy in place of `m.u32` that tells `seen` of each access made inside a CPU's step; returns its undo. */
function recordPlainAccesses(m: Machine, seen: (write: boolean, word: number, changed: boolean) => void): () => void {
  const owner = m as { u32: Uint32Array };
  const real = owner.u32;
  const wordOf = (p: string | symbol): number => {
    if (typeof p !== 'string' || thisCpu.id < 0) return -1;
    const w = Number(p);
    return Number.isInteger(w) && w >= 0 ? w : -1;
  };
  owner.u32 = new Proxy(real, {
    get: (t, p) => {
      const w = wordOf(p);
      if (w >= 0) seen(false, w, false);
      const v = Reflect.get(t, p) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
    set: (t, p, v) => {
      const w = wordOf(p);
      const old = w >= 0 ? t[w] : 0;
      const ok = Reflect.set(t, p, v);
      if (w >= 0) seen(true, w, t[w] !== old);
      return ok;
    },
  });
  return () => {
    owner.u32 = real;
  };
}
