// One run of a race scenario: build its machine, set it up, run its programs under a
// strategy, check. The schedule string names everything a replay needs.
import { PROFILES, type Profile } from '../config.js';
import { SlabError } from '../errors.js';
import { makeCpu } from '../mm/cpu.js';
import { type MutantName, MUTANT_NAMES, setMutant } from '../mm/slub/mutants.js';
import { decodeSchedule, encodeSchedule } from '../sched/schedule.js';
import { type ScheduleResult, type Strategy, type TraceStep, runScheduled } from '../sched/scheduler.js';
import { schedBus } from '../shm/atomic.js';
import { create } from '../shm/machine.js';
import { modelByName } from './catalogue.js';
import { appliesTo, type Model } from './model.js';

export interface RaceConfig {
  model: Model;
  profile: Profile;
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
  trace?: string[];
}

/** Race machines are small (64 pages): setup and the final checks scan every page of them. */
const DEFAULT_MEMORY = 256 << 10;

export function runRace(cfg: RaceConfig, strategy: Strategy, opts: { trace?: boolean; maxSteps?: number } = {}): RaceRun {
  const { model } = cfg;
  const m = create({ cpus: model.cpus, nodes: model.nodes ?? 1, memory: model.memory ?? DEFAULT_MEMORY, profile: cfg.profile });
  const cpus = Array.from({ length: model.cpus }, (_, i) => makeCpu(m, i, cfg.seed, model.irqRate ?? 0));
  const inst = model.create(m, cpus, cfg.profile);
  const irq = inst.irq?.bind(inst);
  if (irq) for (const c of cpus) c.irq = irq;
  // Tracing: what each step read, wrote and swapped, then where the CPU stopped next.
  let pending: string[] = [];
  const stepAccesses: string[][] = [];
  if (opts.trace) {
    schedBus.trace = (kind, _site, word, value, ok) =>
      pending.push(`${kind} [${word}] ${hex(value)}${ok === undefined ? '' : ok ? ' ok' : ' failed'}`);
  }
  setMutant(cfg.mutant);
  let result: ScheduleResult;
  const t0 = performance.now();
  try {
    result = runScheduled(
      cpus.map((c) => inst.thread(c)),
      strategy,
      {
        maxSteps: opts.maxSteps ?? 200_000,
        trace: opts.trace,
        afterStep: () => {
          if (opts.trace) {
            stepAccesses.push(pending);
            pending = [];
          }
          const v = inst.stepCheck?.();
          if (v) throw new SlabError('EINVAL', v);
        },
      },
    );
  } finally {
    setMutant(null);
    schedBus.trace = null;
  }
  const schedMs = performance.now() - t0;
  const messages: string[] = [];
  if (result.outcome !== 'ok') messages.push(result.message ?? result.outcome);
  try {
    for (const v of inst.finalCheck()) if (!messages.some((x) => x.endsWith(v))) messages.push(v);
  } catch (e) {
    messages.push(`final check could not run: ${(e as Error).message}`);
  }
  return {
    failed: messages.length > 0,
    messages,
    outcome: messages.length > 0 ? `FAILED: ${messages[0]}` : inst.outcome(),
    steps: result.steps,
    schedMs,
    choices: result.choices,
    result,
    trace: opts.trace ? traceLines(result.trace ?? [], stepAccesses) : undefined,
  };
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** One line per step: the CPU, what it read or wrote, and the point where it stopped next. */
function traceLines(steps: readonly TraceStep[], accesses: readonly string[][]): string[] {
  return steps.map((t, i) => {
    const did = accesses[i]?.length ? `${accesses[i].join(', ')} ` : '';
    return `${String(i).padStart(5)}  CPU${t.cpu}  ${did}-> ${t.site}${t.blocked ? ' (blocked)' : ''}`;
  });
}

// ---- schedule strings: everything a replay needs, on one line ----

const VERSION = 'v1';

export function raceScheduleString(cfg: RaceConfig, choices: readonly number[]): string {
  const rle = encodeSchedule(cfg.model.cpus, choices).split('.').slice(2).join('.');
  return [VERSION, cfg.model.name, cfg.profile, cfg.mutant ?? 'none', String(cfg.seed), rle].join(':');
}

export function parseRaceSchedule(text: string): { cfg: RaceConfig; choices: number[] } {
  const parts = text.trim().split(':');
  const bad = (why: string) =>
    new SlabError(
      'EINVAL',
      `schedule '${text}': ${why} (expected ${VERSION}:<scenario>:<profile>:<mutant|none>:<seed>:<choices>)`,
    );
  if (parts.length !== 6 || parts[0] !== VERSION) throw bad('not a schedule of this version');
  const [, name, profile, mutant, seed, rle] = parts;
  const model = modelByName(name);
  if (!model) throw bad(`unknown scenario '${name}'`);
  if (!(PROFILES as readonly string[]).includes(profile)) throw bad(`unknown profile '${profile}'`);
  if (!appliesTo(model, profile as Profile)) throw bad(`scenario ${name} does not apply to profile ${profile}`);
  if (mutant !== 'none' && !MUTANT_NAMES.includes(mutant as MutantName)) throw bad(`unknown mutant '${mutant}'`);
  if (!/^\d+$/.test(seed)) throw bad(`bad seed '${seed}'`);
  const { choices } = decodeSchedule(`s1.${model.cpus}.${rle}`);
  return {
    cfg: { model, profile: profile as Profile, mutant: mutant === 'none' ? null : (mutant as MutantName), seed: Number(seed) },
    choices,
  };
}
