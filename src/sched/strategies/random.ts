import { Rng } from '../../rng.js';
import type { RunView, Strategy } from '../scheduler.js';

/**
 * Uniform random walk: at each decision, every runnable CPU is equally likely. In the
 * weaker memory modes each store buffer with a store to flush is one more "thread" as
 * likely as a CPU (Nidhugg's auxiliary threads), which then flushes one of its flushable
 * stores, each as likely; a load reads each of its readable values as likely.
 */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  private readonly rng: Rng;
  private cpus = Infinity;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed, 0x5c4ed);
  }
  begin(run: RunView): void {
    this.cpus = run.cpus;
  }
  pick(runnable: readonly number[]): number {
    const n = this.cpus;
    if (runnable[runnable.length - 1] < n) return runnable[this.rng.below(runnable.length)];
    // CPUs, then buffers: a buffer is one thread whatever its number of flushable stores.
    let cpus = 0;
    while (runnable[cpus] < n) cpus++;
    const owners: number[] = [];
    for (let i = cpus; i < runnable.length; i++) if (!owners.includes(runnable[i] % n)) owners.push(runnable[i] % n);
    const r = this.rng.below(cpus + owners.length);
    if (r < cpus) return runnable[r];
    const mine = runnable.filter((a, i) => i >= cpus && a % n === owners[r - cpus]);
    return mine[this.rng.below(mine.length)];
  }
  pickRead(_cpu: number, k: number): number {
    return this.rng.below(k);
  }
}
