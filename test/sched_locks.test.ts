// Mutual exclusion from plain loads and stores (Peterson, Dekker, a ticket lock) under
// every strategy. The correct forms busy-wait on words another CPU changes: a false
// livelock here (a waiter judged stuck although its next read would let it in) is the
// worst answer a CI race test can give. The broken forms must be found.
import { describe, expect, it } from 'vitest';
import { explore, type Model, replay } from '../src/index.js';
import { dekker, type LockOptions, peterson, ticketLock } from './models/locks.js';

const STRATEGIES = ['random', 'pct', 'dfs', 'dpor'] as const;
const LOCKS: Array<[string, (o: LockOptions) => Model]> = [
  ['peterson', peterson],
  ['dekker', dekker],
  ['ticket-lock', ticketLock],
];
/** A broken lock lets two CPUs in, or (ticket) hands out a ticket already served: its CPU waits forever. */
const BROKEN = /^(CPU\d: two CPUs in the critical section|livelock: CPU\d spun 10000 steps)/;

describe.each(STRATEGIES)('strategy %s', (strategy) => {
  // dpor: every interleaving within the bound (a few hundred runs), not a sample
  const settings = { strategy, runs: strategy === 'dpor' ? 20_000 : 300, preemptionBound: 2 } as const;

  describe.each(LOCKS)('%s', (_name, lock) => {
    it.each([false, true])('the correct lock holds (cpuRelax in the spin: %s)', async (relax) => {
      const r = await explore(lock({ relax }), settings);
      expect(r.models[0].failure?.messages).toBeUndefined();
      if (strategy === 'dpor') {
        expect(r.models[0].dpor).toMatchObject({ exhausted: true, blocked: 0, bound: 2 });
        expect(r.models[0].runs).toBeLessThan(settings.runs);
      } else expect(r.models[0].runs).toBe(settings.runs);
      expect(r.models[0].outcomes.map((o) => o.outcome)).toEqual(['counter 4']);
    });

    it('the broken lock is found, and its shrunk schedule replays to the failure', async () => {
      const r = await explore(lock({ broken: true }), settings);
      const f = r.models[0].failure;
      expect(f?.messages[0]).toMatch(BROKEN);
      const again = replay(lock({ broken: true }), f?.shrunk ?? '');
      expect(again.failed).toBe(true);
      expect(again.messages[0]).toMatch(BROKEN);
    });
  });
});

describe.each(['optimal', 'source'] as const)('dpor %s without a bound: every interleaving', (dpor) => {
  // Busy-waits are cut when an iteration repeats the one before it, reading the same
  // values and changing nothing (spin-assume): the spaces are finite, and both variants
  // count the same executions.
  it.each([
    ['peterson', peterson({ relax: true }), 5712],
    ['ticket-lock', ticketLock({}), 78],
  ] as const)('%s holds, in every one of its traces', async (_name, model, traces) => {
    const r = await explore(model, { strategy: 'dpor', dpor });
    expect(r.models[0].failure?.messages).toBeUndefined();
    expect(r.models[0].dpor).toEqual({
      algorithm: dpor,
      bound: null,
      complete: traces,
      blocked: 0,
      sleep_blocked: 0,
      exhausted: true,
      frontier: { depth: 0, items: 0 },
    });
    expect(r.models[0].outcomes).toEqual([{ outcome: 'counter 4', count: traces, grade: 'acceptable' }]);
  });
});

it('a ticket lock on three CPUs holds under pct', async () => {
  const r = await explore(ticketLock({ cpus: 3, relax: true }), { strategy: 'pct', runs: 200 });
  expect(r.models[0].failure).toBeUndefined();
  expect(r.models[0].outcomes.map((o) => o.outcome)).toEqual(['counter 6']);
});
