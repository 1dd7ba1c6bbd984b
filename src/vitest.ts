// slabsim/vitest: race tests in an ordinary vitest file.
//
//   import { expectRace, raceTest } from 'slabsim/vitest';
//   import ring, { ringWithoutFence } from './ring.model.js';
//   raceTest('ring holds', ring, { runs: 2000, strategy: 'pct' });
//   expectRace('the unfenced ring loses an item', ringWithoutFence, { runs: 2000 });
//
// A race test fails with the violated check, the shrunk schedule string, and the
// command that replays it from the project's root.
import { test } from 'vitest';
import { parseDuration } from './config.js';
import { type ExploreSettings, explore, npxReplayCommand } from './race/api.js';
import type { ExploreReport, ModelReport } from './race/explore.js';
import type { Model } from './race/model.js';

/** {@link ExploreSettings} and the test's own timeout. */
export interface RaceTestSettings extends ExploreSettings {
  /** The test's timeout in ms (default: the budget plus a minute, else two minutes). */
  timeout?: number;
}

/** {@link ExploreSettings} for {@link assertNoRace}. */
export interface NoRaceSettings extends ExploreSettings {
  /**
   * With `strategy: 'dpor'`: pass when no failure was found even if the runs or the
   * budget ended the search before every interleaving was explored (default false: such
   * a test fails, saying what was covered).
   */
  allowPartial?: boolean;
}

/** A DPOR search in a test with neither runs nor budget given stops after this long, well inside the test's timeout. */
const DPOR_TEST_BUDGET = '60s';

/**
 * A vitest test that explores `models` and fails if any run violates a check. With
 * `strategy: 'dpor'` it passes only when every interleaving was explored (unless
 * `allowPartial`), and says so: "every interleaving (N traces)".
 */
export function raceTest(name: string, models: Model | readonly Model[], settings: RaceTestSettings & NoRaceSettings = {}): void {
  test(
    name,
    async (ctx) => {
      const report = await assertNoRace(models, inTest(settings));
      const covered = dporCovered(report);
      if (covered) await (ctx as { annotate?: (message: string) => Promise<unknown> }).annotate?.(covered);
    },
    timeoutOf(settings),
  );
}

/** A DPOR test with no runs or budget of its own gets one that ends before its timeout. */
const inTest = <S extends ExploreSettings>(s: S): S =>
  s.strategy === 'dpor' && s.runs === undefined && s.budget === undefined ? { ...s, budget: DPOR_TEST_BUDGET } : s;

/** "every interleaving (N traces)" for a DPOR search that explored them all, else null. */
export function dporCovered(report: ExploreReport): string | null {
  const d = report.models.map((m) => m.dpor);
  if (d.length === 0 || d.some((x) => !x?.exhausted)) return null;
  const n = d.reduce((sum, x) => sum + (x?.complete ?? 0), 0);
  const bound = d[0]?.bound ?? null;
  return bound === null ? `every interleaving (${n} traces)` : `every interleaving within ${bound} preemptions (${n} executions)`;
}

/**
 * A vitest test that expects a race: it fails unless the exploration finds a run that
 * violates a check (a known-broken variant must stay found).
 */
export function expectRace(name: string, models: Model | readonly Model[], settings: RaceTestSettings = {}): void {
  test(name, () => assertRace(models, inTest(settings)).then(() => undefined), timeoutOf(settings));
}

/**
 * Explore; resolve with the report when nothing fails, else reject with the failure, its
 * schedule and its replay command. A DPOR search that ended before every interleaving
 * was explored rejects too, saying what it covered (unless `allowPartial`).
 */
export async function assertNoRace(models: Model | readonly Model[], settings: NoRaceSettings = {}): Promise<ExploreReport> {
  const { allowPartial, ...explored } = settings;
  const report = await explore(models, await withReplayCommand(models, explored));
  const failed = report.models.filter((m) => m.failure);
  if (failed.length > 0) throw new RaceFoundError(failed.map((m) => describeFailure(m, report)).join('\n\n'));
  const partial = report.models.filter((m) => m.dpor && !m.dpor.exhausted);
  if (partial.length > 0 && !allowPartial)
    throw new Error(
      partial
        .map(
          (m) =>
            `dpor did not explore every interleaving of model '${m.model}'${m.profile ? ` (profile ${m.profile})` : ''} before its runs or budget ran out: ` +
            `${m.dpor?.complete} complete executions (${m.dpor?.blocked} blocked, ${m.dpor?.sleep_blocked} sleep-blocked) in ${m.runs} runs, none failed. ` +
            'Give it more runs or a longer budget, or allow a partial search (allowPartial: true)',
        )
        .join('\n'),
    );
  return report;
}

/** Explore; resolve with the report of the failing model, or reject when no run fails. */
export async function assertRace(models: Model | readonly Model[], settings: ExploreSettings = {}): Promise<ModelReport> {
  const report = await explore(models, await withReplayCommand(models, settings));
  const failed = report.models.find((m) => m.failure);
  if (!failed) {
    const names = report.models.map((m) => m.model).join(', ');
    const covered = dporCovered(report);
    if (covered) throw new Error(`expected a race in ${names}, but dpor explored ${covered} and found none`);
    throw new Error(
      `expected a race in ${names}, but ${report.runs} runs (strategy ${report.strategy}, seed ${report.seed}, ${report.steps} steps) found none`,
    );
  }
  return failed;
}

/** A race test's failure: the message is the report a person acts on. */
export class RaceFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaceFoundError';
  }
}

function describeFailure(m: ModelReport, report: ExploreReport): string {
  const f = m.failure;
  if (!f) return '';
  return [
    `race found in model '${m.model}'${m.profile ? ` (profile ${m.profile})` : ''}: ${f.messages[0]}`,
    ...f.messages.slice(1).map((x) => `  also: ${x}`),
    `  after ${m.runs} runs (strategy ${report.strategy}, seed ${f.seed})`,
    `  shrunk schedule (${f.preemptions.before} -> ${f.preemptions.after} preemptions): ${f.shrunk}`,
    `  replay: ${f.replay}`,
  ].join('\n');
}

function timeoutOf(s: RaceTestSettings): number {
  if (s.timeout !== undefined) return s.timeout;
  const budget = typeof s.budget === 'number' ? s.budget : s.budget ? parseDuration(s.budget) : 0;
  return budget > 0 ? budget + 60_000 : 120_000;
}

/**
 * Replay commands that name the export a model came from (`--export NAME`): found by
 * importing each model's file, which vitest has loaded already.
 */
async function withReplayCommand(models: Model | readonly Model[], settings: ExploreSettings): Promise<ExploreSettings> {
  if (settings.replayCommand) return settings;
  const exportOf = new Map<string, string>();
  for (const model of Array.isArray(models) ? models : [models as Model]) {
    if (!model.source) continue;
    try {
      const mod = (await import(/* @vite-ignore */ model.source)) as Record<string, unknown>;
      const named = (x: unknown): boolean => (x as Model | null)?.name === model.name;
      const key = Object.keys(mod).find((k) => named(mod[k]) || (Array.isArray(mod[k]) && (mod[k] as unknown[]).some(named)));
      if (key) exportOf.set(model.name, key);
    } catch {
      // The command then names the file alone.
    }
  }
  return { ...settings, replayCommand: (schedule, model) => npxReplayCommand(schedule, model, exportOf.get(model.name)) };
}
