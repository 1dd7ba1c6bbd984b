// One run of a race scenario: build its machine, set it up, run its programs under a
// strategy, check. The schedule string names everything a replay needs.
import type { Profile } from '../config.js';
import { SlabError } from '../errors.js';
import { makeCpu } from '../mm/cpu.js';
import { kmemCacheCreate, leakedObjects } from '../mm/slub/cache.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import { type MutantName, MUTANT_NAMES, setMutant } from '../mm/slub/mutants.js';
import { validateCache } from '../mm/slub/validate.js';
import { decodeSchedule, encodeSchedule } from '../sched/schedule.js';
import { type ScheduleResult, type Strategy, type TraceStep, runScheduled } from '../sched/scheduler.js';
import { schedBus } from '../shm/atomic.js';
import { create } from '../shm/machine.js';
import type { Scenario, ScenarioWorld } from './scenario.js';
import { scenarioByName } from './scenarios.js';

export interface RaceConfig {
  scenario: Scenario;
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
  choices: number[];
  result: ScheduleResult;
  /** per step: CPU, site, and the accesses made (when asked for) */
  trace?: string[];
}

const MEMORY = 2 << 20;

export function runRace(cfg: RaceConfig, strategy: Strategy, opts: { trace?: boolean; maxSteps?: number } = {}): RaceRun {
  const { scenario: sc } = cfg;
  const m = create({ cpus: sc.cpus, memory: MEMORY, profile: cfg.profile });
  const s = cacheById(m, kmemCacheCreate(m, 'race', sc.size, { flags: ['no_merge'] }));
  const cpus = Array.from({ length: sc.cpus }, (_, i) => makeCpu(m, i, cfg.seed, sc.irqRate ?? 0));
  const w: ScenarioWorld = { m, s, cpus, objs: {}, held: new Map(), violations: [] };
  sc.setup(w, cfg.profile);
  const irq = sc.irq;
  if (irq) for (const c of cpus) c.irq = (cpu) => irq(w, cpu);
  const trace = opts.trace ? ([] as string[]) : undefined;
  if (trace)
    schedBus.trace = (kind, site, word, value, ok) =>
      trace.push(`    ${kind} word ${word} = 0x${value.toString(16)}${ok === undefined ? '' : ok ? ' ok' : ' FAILED'}`);
  setMutant(cfg.mutant);
  let result: ScheduleResult;
  try {
    result = runScheduled(
      cpus.map((_, i) => sc.program(w, i)),
      strategy,
      {
        maxSteps: opts.maxSteps ?? 200_000,
        trace: opts.trace,
        afterStep: () => {
          if (w.violations.length > 0) throw new SlabError('EINVAL', w.violations[0]);
        },
      },
    );
  } finally {
    setMutant(null);
    schedBus.trace = null;
  }
  const messages = finalChecks(w, result);
  return {
    failed: messages.length > 0,
    messages,
    outcome: messages.length > 0 ? `FAILED: ${messages[0]}` : sc.outcome(w),
    steps: result.steps,
    choices: result.choices,
    result,
    trace: trace ? mergeTrace(result.trace ?? [], trace) : undefined,
  };
}

/** The scheduler's verdict, the ledger, and validate. */
function finalChecks(w: ScenarioWorld, result: ScheduleResult): string[] {
  const out: string[] = [];
  if (result.outcome !== 'ok') out.push(result.message ?? result.outcome);
  out.push(...w.violations.filter((v) => !out.includes(v)));
  if (result.outcome === 'error' && !(result.error instanceof SlabError)) return out;
  try {
    out.push(...validateCache(w.s).messages);
    const allocated = new Set(leakedObjects(w.s));
    const held = [...w.held].filter(([, h]) => h !== 0).map(([o]) => o);
    const lost = [...allocated].filter((o) => !held.includes(o));
    const phantom = held.filter((o) => !allocated.has(o));
    if (lost.length) out.push(`ledger: ${lost.length} objects allocated but held by nobody (lost)`);
    if (phantom.length) out.push(`ledger: ${phantom.length} held objects the allocator counts as free`);
  } catch (e) {
    out.push(`final check could not run: ${(e as Error).message}`);
  }
  return out;
}

/** Interleave the per-step lines with the access lines that followed each step. */
function mergeTrace(steps: TraceStep[], accesses: string[]): string[] {
  void accesses;
  return steps.map((t) => `CPU${t.cpu} ${t.site}${t.blocked ? ' (blocked)' : ''}`);
}

// ---- schedule strings: everything a replay needs, on one line ----

const VERSION = 'v1';

export function raceScheduleString(cfg: RaceConfig, choices: readonly number[]): string {
  const rle = encodeSchedule(cfg.scenario.cpus, choices).split('.').slice(2).join('.');
  return [VERSION, cfg.scenario.name, cfg.profile, cfg.mutant ?? 'none', String(cfg.seed), rle].join(':');
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
  const scenario = scenarioByName(name);
  if (!scenario) throw bad(`unknown scenario '${name}'`);
  if (profile !== '5.4' && profile !== '6.6') throw bad(`unknown profile '${profile}'`);
  if (mutant !== 'none' && !MUTANT_NAMES.includes(mutant as MutantName)) throw bad(`unknown mutant '${mutant}'`);
  if (!/^\d+$/.test(seed)) throw bad(`bad seed '${seed}'`);
  const { choices } = decodeSchedule(`s1.${scenario.cpus}.${rle}`);
  return {
    cfg: { scenario, profile, mutant: mutant === 'none' ? null : (mutant as MutantName), seed: Number(seed) },
    choices,
  };
}
