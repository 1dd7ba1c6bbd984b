import { Rng } from '../../rng.js';
import type { Strategy } from '../scheduler.js';

/** Uniform random walk: at each decision, every runnable CPU is equally likely. */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  private readonly rng: Rng;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed, 0x5c4ed);
  }
  pick(runnable: readonly number[]): number {
    return runnable[this.rng.below(runnable.length)];
  }
}
