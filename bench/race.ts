// Race exploration speed, as `slabsim race` measures it on one thread: steps per second
// with each run's machine restore, setup and final checks included (the whole run), and
// inside the scheduler alone; their ratio is what a run costs besides its steps (issue
// 20: at least 0.75). Also per CPU-second of this process, which a shared machine
// disturbs less than the wall clock. Two model sets: `race --scenario all --runs 2000`
// (every built-in model that `all` explores, SLUB scenarios on every profile, the others
// once) and the docs' ring model (docs/explore.md: test/fixtures/ring.model.ts, a small
// user model loaded as `race --model` loads it).
import { resolve } from 'node:path';
import { loadModelFile } from '../src/cli/model_files.js';
import { PROFILES } from '../src/config.js';
import { MODELS } from '../src/race/catalogue.js';
import { explore, type ExploreOptions } from '../src/race/explore.js';
import type { Model } from '../src/race/model.js';

export interface RaceSpeed {
  runs: number;
  steps: number;
  stepsPerSec: number;
  schedStepsPerSec: number;
  stepsPerCpuSec: number;
  /** runs per second, the whole run */
  runsPerSec: number;
  /** stepsPerSec over schedStepsPerSec: the share of a run's time spent in its steps */
  wholeOverScheduler: number;
}

const options = (models: readonly Model[], runs: number): ExploreOptions => ({
  models,
  profiles: PROFILES,
  mutant: null,
  strategy: 'random',
  depth: 3,
  preemptionBound: 2,
  runs,
  budgetMs: 0,
  seed: 1,
  shard: [0, 1],
});

function speedOf(models: readonly Model[], runs: number): RaceSpeed {
  explore(options(models, Math.ceil(runs / 10))); // warm up: JIT, and every model's machine made once
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = explore(options(models, runs));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return {
    runs: r.runs,
    steps: r.steps,
    stepsPerSec: r.steps_per_sec,
    schedStepsPerSec: r.sched_steps_per_sec,
    stepsPerCpuSec: Math.round(r.steps / ((cpu.user + cpu.system) / 1e6)),
    runsPerSec: Math.round(r.runs / (ms / 1000)),
    wholeOverScheduler: Math.round((r.steps_per_sec / r.sched_steps_per_sec) * 1000) / 1000,
  };
}

/** `race --scenario all --runs 2000` on one thread. */
export const raceSpeed = (runs = 2000): RaceSpeed =>
  speedOf(
    MODELS.filter((m) => !m.broken),
    runs,
  );

/** The docs' ring model (its correct form, `vyukov-ring`), random runs. */
export async function ringRaceSpeed(runs = 20_000): Promise<RaceSpeed> {
  const file = resolve('test/fixtures/ring.model.ts');
  const [{ model }] = await loadModelFile(file);
  return speedOf([model], runs);
}
