import { SlabError } from '../../errors.js';
import type { Strategy } from '../scheduler.js';

/** Replays recorded choices; a choice that is not runnable means the program differs. */
export class ReplayStrategy implements Strategy {
  readonly name = 'replay';
  private i = 0;
  constructor(private readonly choices: readonly number[]) {}
  pick(runnable: readonly number[]): number {
    if (this.i >= this.choices.length) {
      throw new SlabError('EINVAL', `replay: schedule ended after ${this.i} choices but the run goes on`);
    }
    const c = this.choices[this.i++];
    if (!runnable.includes(c)) {
      throw new SlabError('EINVAL', `replay: choice ${this.i} is CPU ${c}, which cannot move (runnable: ${runnable.join(',')})`);
    }
    return c;
  }
  /** All recorded choices were used. */
  get finished(): boolean {
    return this.i === this.choices.length;
  }
}
