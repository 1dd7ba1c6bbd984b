// The cost of the weaker memory modes (issue 18, Deliver 8): `race --scenario all` under
// arm over the same under sc, in the same process and the same rounds (sc, arm, then arm,
// sc, so that a drift of the machine's load weighs on both), every built-in model that
// `all` explores on every profile it runs on, random runs of the same seeds. Steps per
// second with each run's restore, setup and final checks (as `race` reports it), and
// inside the scheduler alone. A flush is a step of its own, so arm makes more steps per
// run: runs per second are given too. A run that fails (a model whose orderings are not
// yet those of the kernel fails under arm) is measured like any other, not shrunk.
import { PROFILES } from '../src/config.js';
import { MODELS } from '../src/race/catalogue.js';
import { explorationPairs } from '../src/race/explore.js';
import { runRace } from '../src/race/run.js';
import type { MemoryModel } from '../src/sched/memory_model.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';

export interface ModeSpeed {
  runs: number;
  steps: number;
  failed: number;
  stepsPerSec: number;
  schedStepsPerSec: number;
  runsPerSec: number;
}

export interface WeakSpeed {
  sc: ModeSpeed;
  arm: ModeSpeed;
  /** arm's steps/s over sc's, setup and checks included (issue 18: at least 0.5) */
  armOverScStepsPerSec: number;
  /** the same inside the scheduler alone */
  armOverScSchedStepsPerSec: number;
  armOverScRunsPerSec: number;
}

interface Tally {
  runs: number;
  steps: number;
  failed: number;
  ms: number;
  schedMs: number;
}

/** `runs` random runs of every pair in `mode`, seeds from `seed`, added to `t`. */
function runAll(mode: MemoryModel, runs: number, seed: number, t: Tally): void {
  for (const { model, profile } of explorationPairs(
    MODELS.filter((m) => !m.broken),
    PROFILES,
  )) {
    for (let i = 0; i < runs; i++) {
      const cfg = { model, profile, mutant: null, seed: seed + i, memoryModel: mode };
      const t0 = performance.now();
      const r = runRace(cfg, new RandomStrategy(cfg.seed));
      t.ms += performance.now() - t0;
      t.schedMs += r.schedMs;
      t.runs++;
      t.steps += r.steps;
      if (r.failed) t.failed++;
    }
  }
}

const speed = (t: Tally): ModeSpeed => ({
  runs: t.runs,
  steps: t.steps,
  failed: t.failed,
  stepsPerSec: Math.round(t.steps / (t.ms / 1000)),
  schedStepsPerSec: Math.round(t.steps / (t.schedMs / 1000)),
  runsPerSec: Math.round(t.runs / (t.ms / 1000)),
});

export function weakRaceSpeed(runs = 1000, rounds = 4): WeakSpeed {
  const zero = (): Tally => ({ runs: 0, steps: 0, failed: 0, ms: 0, schedMs: 0 });
  runAll('sc', 50, 1, zero()); // warm up: JIT, and every model's machine made once
  runAll('arm', 50, 1, zero());
  const sc = zero();
  const arm = zero();
  const per = Math.max(1, Math.round(runs / rounds));
  for (let r = 0; r < rounds; r++) {
    const seed = 1 + r * per;
    const order: Array<[MemoryModel, Tally]> = [
      ['sc', sc],
      ['arm', arm],
    ];
    for (const [mode, t] of r % 2 === 0 ? order : order.reverse()) runAll(mode, per, seed, t);
  }
  const s = speed(sc);
  const a = speed(arm);
  const ratio = (x: number, y: number): number => Math.round((x / y) * 100) / 100;
  return {
    sc: s,
    arm: a,
    armOverScStepsPerSec: ratio(a.stepsPerSec, s.stepsPerSec),
    armOverScSchedStepsPerSec: ratio(a.schedStepsPerSec, s.schedStepsPerSec),
    armOverScRunsPerSec: ratio(a.runsPerSec, s.runsPerSec),
  };
}
