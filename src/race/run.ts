// One run of a race model: bring its machine to the starting state, set it up, run its
// programs under a strategy, check. The schedule string names everything a replay needs.
import { type Profile, PROFILES } from '../config.js';
import { isFinding, ModelError, SlabError } from '../errors.js';
import { type Cpu, makeCpu, resetCpu } from '../mm/cpu.js';
import { type MutantName, MUTANT_NAMES, mutantOn, setMutant } from '../mm/slub/mutants.js';
import { decodeSchedule, encodeSchedule } from '../sched/schedule.js';
import { type Access, type ScheduleResult, type Strategy, type TraceStep, runScheduled } from '../sched/scheduler.js';
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
}

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
  // Tracing: what each step read, wrote and swapped, then where the CPU stopped next.
  let pending: Access[] = [];
  const stepAccesses: Access[][] = [];
  if (opts.trace)
    schedBus.trace = (kind, _site, word, value, ok) => pending.push({ kind: kind as Access['kind'], word, value, ok });
  const check = inst.stepCheck?.bind(inst);
  // Trusted models' checks are called directly: this runs after every step.
  const stepCheck =
    check && (trusted ? check : (written: readonly number[]) => modelCode(model, false, 'stepCheck()', () => check(written)));
  let result: ScheduleResult;
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
      memory: m.u32,
      afterStep:
        opts.trace || stepCheck
          ? (_cpu, written) => {
              if (opts.trace) {
                stepAccesses.push(pending);
                pending = [];
              }
              const v = stepCheck?.(written);
              if (v) throw new SlabError('EINVAL', v);
            }
          : undefined,
    });
  } finally {
    setMutant(null);
    schedBus.trace = null;
  }
  const schedMs = performance.now() - t0;
  if (result.outcome === 'error' && !trusted && !isFinding(result.error)) {
    const e = result.error as Error;
    if (e instanceof ModelError) throw e;
    const who = result.errorCpu === undefined ? 'stepCheck()' : `thread() of CPU${result.errorCpu}`;
    throw new ModelError(`model '${model.name}': ${who} threw ${e?.name ?? 'an error'}: ${e?.message ?? String(e)}`, model.name);
  }
  const trace = opts.trace ? withAccesses(result.trace ?? [], stepAccesses) : undefined;
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

/** The trace steps with the accesses each made. */
function withAccesses(steps: readonly TraceStep[], accesses: readonly Access[][]): TraceStep[] {
  return steps.map((t, i) => (accesses[i]?.length ? { ...t, accesses: accesses[i] } : t));
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** One line per step: the CPU, what it read or wrote, and the point where it stopped next. */
export function traceLines(steps: readonly TraceStep[]): string[] {
  return steps.map((t, i) => {
    const did = t.accesses?.length
      ? `${t.accesses.map((a) => `${a.kind} [${a.word}] ${hex(a.value)}${a.ok === undefined ? '' : a.ok ? ' ok' : ' failed'}`).join(', ')} `
      : '';
    const state = t.blocked ? ' (blocked)' : t.spinning ? ' (spinning)' : '';
    return `${String(i).padStart(5)}  CPU${t.cpu}  ${did}-> ${t.site}${state}`;
  });
}

// ---- schedule strings: everything a replay needs, on one line ----

const VERSION = 'v1';
/** The profile field of a schedule for a model that runs no kernel code. */
const NO_PROFILE = '-';

export function raceScheduleString(cfg: RaceConfig, choices: readonly number[]): string {
  const rle = encodeSchedule(cfg.model.cpus, choices).split('.').slice(2).join('.');
  return [VERSION, cfg.model.name, cfg.profile ?? NO_PROFILE, cfg.mutant ?? 'none', String(cfg.seed), rle].join(':');
}

/** The parts of a schedule string, before its model is looked up. */
export interface ParsedSchedule {
  modelName: string;
  profile: Profile | null;
  mutant: MutantName | null;
  seed: number;
  /** the run-length encoded choices */
  rle: string;
}

export function parseScheduleString(text: string): ParsedSchedule {
  const parts = text.trim().split(':');
  const bad = (why: string) =>
    new SlabError(
      'EINVAL',
      `schedule '${text}': ${why} (expected ${VERSION}:<model>:<profile|->:<mutant|none>:<seed>:<choices>)`,
    );
  if (parts.length !== 6 || parts[0] !== VERSION) throw bad('not a schedule of this version');
  const [, modelName, profile, mutant, seed, rle] = parts;
  if (profile !== NO_PROFILE && !PROFILES.includes(profile as Profile)) throw bad(`unknown profile '${profile}'`);
  if (mutant !== 'none' && !MUTANT_NAMES.includes(mutant as MutantName)) throw bad(`unknown mutant '${mutant}'`);
  if (!/^\d+$/.test(seed)) throw bad(`bad seed '${seed}'`);
  return {
    modelName,
    profile: profile === NO_PROFILE ? null : (profile as Profile),
    mutant: mutant === 'none' ? null : (mutant as MutantName),
    seed: Number(seed),
    rle,
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
  const { choices } = decodeSchedule(`s1.${model.cpus}.${p.rle}`);
  return { cfg: { model, profile: p.profile, mutant: p.mutant, seed: p.seed }, choices };
}
