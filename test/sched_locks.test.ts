// Mutual exclusion from plain loads and stores (Peterson, Dekker, a ticket lock) under
// every strategy. The correct forms busy-wait on words another CPU changes: a false
// livelock here (a waiter judged stuck although its next read would let it in) is the
// worst answer a CI race test can give. The broken forms must be found.
import { describe, expect, it } from 'vitest';
import { explore, type Model, replay } from '../src/index.js';
import { dekker, type LockOptions, peterson, ticketLock } from './models/locks.js';

const STRATEGIES = ['random', 'pct', 'dfs'] as const;
const LOCKS: Array<[string, (o: LockOptions) => Model]> = [
  ['peterson', peterson],
  ['dekker', dekker],
  ['ticket-lock', ticketLock],
];
/** A broken lock lets two CPUs in, or (ticket) hands out a ticket already served: its CPU waits forever. */
const BROKEN = /^(CPU\d: two CPUs in the critical section|livelock: CPU\d spun 10000 steps)/;

describe.each(STRATEGIES)('strategy %s', (strategy) => {
  const settings = { strategy, runs: 300, preemptionBound: 2 } as const;

  describe.each(LOCKS)('%s', (_name, lock) => {
    it.each([false, true])('the correct lock holds (cpuRelax in the spin: %s)', async (relax) => {
      const r = await explore(lock({ relax }), settings);
      expect(r.models[0].failure?.messages).toBeUndefined();
      expect(r.models[0].runs).toBe(settings.runs);
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

it('a ticket lock on three CPUs holds under pct', async () => {
  const r = await explore(ticketLock({ cpus: 3, relax: true }), { strategy: 'pct', runs: 200 });
  expect(r.models[0].failure).toBeUndefined();
  expect(r.models[0].outcomes.map((o) => o.outcome)).toEqual(['counter 6']);
});
