// DPOR explores one complete execution per Mazurkiewicz trace (memory-models.md §7):
// programs whose number of traces is known by hand, under both algorithms. Optimal DPOR
// never ends a run asleep; source DPOR may, but its complete executions are the same.
import { describe, expect, it } from 'vitest';
import { exploreDpor, type DporAlgorithm, type DporTrial } from '../src/sched/dpor/search.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { site, type Step } from '../src/sched/step.js';
import { add32, cas32, load32, spinLock, spinUnlock, store32 } from '../src/shm/atomic.js';
import { create, type Machine } from '../src/shm/machine.js';

const S = site('dpor-count');
const BASE = 4096; // words of simulated memory the machine does not use at start

/** A trial running `threads(m)` from zeroed words, as a race run does from its image. */
function trialOf(cpus: number, threads: (m: Machine) => Step<unknown>[]): DporTrial {
  const m = create({ cpus, nodes: 1, memory: 1 << 20, profile: '6.6' });
  return (strategy, unfair) => {
    m.u32.fill(0, BASE, BASE + 64);
    return runScheduled(threads(m), strategy, { unfair, memory: m.u32 });
  };
}

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** [name, cpus, threads, traces] */
const PROGRAMS: Array<[string, number, (m: Machine) => Step<unknown>[], number]> = [
  ...[2, 3, 4].map((n): [string, number, (m: Machine) => Step<unknown>[], number] => [
    `${n} CPUs write ${n} different words`,
    n,
    (m) => range(n).map((i) => store32(m, BASE + i, 1, S)),
    1,
  ]),
  ...[2, 3, 4].map((n): [string, number, (m: Machine) => Step<unknown>[], number] => [
    `${n} CPUs add32 on one word`,
    n,
    (m) => range(n).map(() => add32(m, BASE, 1, S)),
    factorial(n),
  ]),
  ...[2, 3, 4].map((n): [string, number, (m: Machine) => Step<unknown>[], number] => [
    `${n} CPUs cas32(x, 0, id)`,
    n,
    (m) => range(n).map((i) => cas32(m, BASE, 0, i + 1, S)),
    n,
  ]),
  ...[1, 2, 3, 4].map((n): [string, number, (m: Machine) => Step<unknown>[], number] => [
    `one writer and ${n} readers of one word`,
    n + 1,
    (m) => [store32(m, BASE, 1, S), ...range(n).map(() => load32(m, BASE, S))],
    2 ** n,
  ]),
  ...[2, 3, 4].map((n): [string, number, (m: Machine) => Step<unknown>[], number] => [
    `${n} increments under one lock`,
    n,
    (m) =>
      range(n).map(function* () {
        yield* spinLock(m, BASE, S);
        const v = yield* load32(m, BASE + 1, S);
        yield* store32(m, BASE + 1, v + 1, S);
        yield* spinUnlock(m, BASE, S);
      }),
    factorial(n),
  ]),
];

describe.each(['optimal', 'source'] as DporAlgorithm[])('%s DPOR', (algorithm) => {
  it.each(PROGRAMS)('%s: one complete execution per trace', (_name, cpus, threads, traces) => {
    const r = exploreDpor(trialOf(cpus, threads), { algorithm, preemptionBound: Infinity });
    expect(r.failure).toBeUndefined();
    expect(r.exhausted).toBe(true);
    expect(r.complete).toBe(traces);
    expect(r.blocked).toBe(0);
    if (algorithm === 'optimal') expect(r.sleepBlocked).toBe(0);
    expect(r.runs).toBe(r.complete + r.blocked + r.sleepBlocked);
  });
});
