// Race exploration speed on a 2-CPU SLUB scenario: steps per second inside the scheduler
// (the generators of the real SLUB code, the strategy, the per-step checks) and with each
// run's machine setup and final validate included.
import { modelByName } from '../src/race/catalogue.js';
import { runRace } from '../src/race/run.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';

export function raceSteps(runs = 5000): { stepsPerSec: number; schedStepsPerSec: number } {
  const model = modelByName('remote-free-vs-deactivate');
  if (!model) throw new Error('scenario missing');
  for (let i = 0; i < 500; i++) runRace({ model, profile: '5.4', mutant: null, seed: i }, new RandomStrategy(i)); // warm up
  let steps = 0;
  let schedMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const r = runRace({ model, profile: '5.4', mutant: null, seed: i }, new RandomStrategy(i));
    steps += r.steps;
    schedMs += r.schedMs;
  }
  const wall = performance.now() - t0;
  return { stepsPerSec: Math.round(steps / (wall / 1000)), schedStepsPerSec: Math.round(steps / (schedMs / 1000)) };
}
