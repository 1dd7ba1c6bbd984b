import { SlabError } from '../../errors.js';
import type { RunView, Strategy } from '../scheduler.js';
import { tokenAction, tokenRead } from '../schedule.js';

/**
 * Replays recorded choices (tokens, src/sched/schedule.ts); a choice that is not runnable
 * means the program differs.
 */
export class ReplayStrategy implements Strategy {
  readonly name = 'replay';
  private i = 0;
  private cpus = Infinity;
  /** the read choice of the token the last pick took */
  private read = 0;
  constructor(private readonly choices: readonly number[]) {}
  begin(run: RunView): void {
    this.cpus = run.cpus;
  }
  pick(runnable: readonly number[]): number {
    const t = this.next();
    const c = tokenAction(t, this.cpus);
    if (!runnable.includes(c)) {
      const what =
        c < this.cpus ? `CPU ${c}` : `a flush of CPU ${c % this.cpus}'s store buffer (+${Math.floor(c / this.cpus) - 1})`;
      throw new SlabError('EINVAL', `replay: choice ${this.i} is ${what}, which cannot move (runnable: ${runnable.join(',')})`);
    }
    this.read = tokenRead(t, this.cpus);
    return c;
  }
  pickRead(cpu: number, k: number, picked: boolean): number {
    let read = this.read;
    if (!picked) {
      const t = this.next();
      if (tokenAction(t, this.cpus) !== cpu)
        throw new SlabError(
          'EINVAL',
          `replay: choice ${this.i} is not a step of CPU ${cpu}, whose load reads one of ${k} values`,
        );
      read = tokenRead(t, this.cpus);
    }
    if (read >= k) throw new SlabError('EINVAL', `replay: choice ${this.i} reads value ${read}, but the load has ${k}`);
    return read;
  }
  private next(): number {
    if (this.i >= this.choices.length) {
      throw new SlabError('EINVAL', `replay: schedule ended after ${this.i} choices but the run goes on`);
    }
    return this.choices[this.i++];
  }
  /** All recorded choices were used. */
  get finished(): boolean {
    return this.i === this.choices.length;
  }
}
