// Race exploration speed, as `slabsim race --scenario all --runs 2000` measures it on one
// thread: every built-in model that `all` explores (SLUB scenarios on both profiles, the
// others once), steps per second with each run's machine restore, setup and final
// checks included, and inside the scheduler alone. Also per CPU-second of this process,
// which a shared machine disturbs less than the wall clock.
import { PROFILES } from '../src/config.js';
import { MODELS } from '../src/race/catalogue.js';
import { explore, type ExploreOptions } from '../src/race/explore.js';

export interface RaceSpeed {
  runs: number;
  steps: number;
  stepsPerSec: number;
  schedStepsPerSec: number;
  stepsPerCpuSec: number;
}

const options = (runs: number): ExploreOptions => ({
  models: MODELS.filter((m) => !m.broken),
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

export function raceSpeed(runs = 2000): RaceSpeed {
  explore(options(200)); // warm up: JIT, and every model's machine made once
  const c0 = process.cpuUsage();
  const r = explore(options(runs));
  const cpu = process.cpuUsage(c0);
  return {
    runs: r.runs,
    steps: r.steps,
    stepsPerSec: r.steps_per_sec,
    schedStepsPerSec: r.sched_steps_per_sec,
    stepsPerCpuSec: Math.round(r.steps / ((cpu.user + cpu.system) / 1e6)),
  };
}
