// One run of a race model: bring its machine to the starting state, set it up, run its
// programs under a strategy, check. The schedule string names everything a replay needs.
import { type Profile, PROFILES } from '../config.js';
import { isFinding, ModelError, SlabError } from '../errors.js';
import { makeCpu } from '../mm/cpu.js';
import { type MutantName, MUTANT_NAMES, setMutant } from '../mm/slub/mutants.js';
import { decodeSchedule, encodeSchedule } from '../sched/schedule.js';
import { type Access, type ScheduleResult, type Strategy, type TraceStep, runScheduled } from '../sched/scheduler.js';
import { schedBus } from '../shm/atomic.js';
import { create, type Machine, restore, snapshot } from '../shm/machine.js';
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

/** Reused machines by shape, each with the image of its starting state. */
const machines = new Map<string, { m: Machine; image: Uint32Array }>();

/** A machine in its starting state: a new one, or the reused one of this shape restored. */
function startingMachine(model: Model, profile: Profile, fresh: boolean): Machine {
  const cfg = { cpus: model.cpus, nodes: model.nodes ?? 1, memory: model.memory ?? DEFAULT_MEMORY, profile };
  if (fresh) return create(cfg);
  const key = `${cfg.cpus}:${cfg.nodes}:${cfg.memory}:${profile}`;
  const saved = machines.get(key);
  if (saved) {
    restore(saved.m, saved.image);
    return saved.m;
  }
  const m = create(cfg);
  machines.set(key, { m, image: snapshot(m) });
  return m;
}

export function runRace(cfg: RaceConfig, strategy: Strategy, opts: RunOptions = {}): RaceRun {
  const { model } = cfg;
  const trusted = builtIn.has(model);
  const m = startingMachine(model, cfg.profile ?? NEUTRAL_PROFILE, opts.freshMachine === true);
  const cpus = Array.from({ length: model.cpus }, (_, i) => makeCpu(m, i, cfg.seed, model.irqRate ?? 0));
  setMutant(cfg.mutant);
  const inst = modelCode(model, trusted, 'create()', () =>
    checkInstance(model, model.create(m, cpus, cfg.profile ?? NEUTRAL_PROFILE)),
  );
  const irq = inst.irq?.bind(inst);
  if (irq) for (const c of cpus) c.irq = irq;
  // Tracing: what each step read, wrote and swapped, then where the CPU stopped next.
  let pending: Access[] = [];
  const stepAccesses: Access[][] = [];
  if (opts.trace)
    schedBus.trace = (kind, _site, word, value, ok) => pending.push({ kind: kind as Access['kind'], word, value, ok });
  const stepCheck = inst.stepCheck?.bind(inst);
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
      maxSteps: opts.maxSteps ?? model.maxSteps ?? DEFAULT_MAX_STEPS,
      trace: opts.trace,
      afterStep: (_cpu, written) => {
        if (opts.trace) {
          stepAccesses.push(pending);
          pending = [];
        }
        if (!stepCheck) return;
        const v = modelCode(model, trusted, 'stepCheck()', () => stepCheck(written));
        if (v) throw new SlabError('EINVAL', v);
      },
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
    trace: opts.trace ? withAccesses(result.trace ?? [], stepAccesses) : undefined,
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
