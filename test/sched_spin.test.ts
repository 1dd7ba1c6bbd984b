// Busy-waits under every strategy (fair scheduling of spinners): a model whose thread
// spins on a plain load, or on xchg, terminates under random, pct and dfs; the broken
// variant is found; a spin nobody can end is a livelock, a run that never ends is cut
// at its step limit, and both are reported, never a hang.
import { describe, expect, it } from 'vitest';
import { explore, replay } from '../src/index.js';
import { countsForever, flagHandoff, neverRaised, tasCounter } from './models/busy_wait.js';

const STRATEGIES = ['random', 'pct', 'dfs'] as const;

describe.each(STRATEGIES)('strategy %s', (strategy) => {
  const settings = { strategy, runs: 300, preemptionBound: 2 } as const;

  it.each([false, true])(
    'a consumer spinning on a plain load (cpuRelax: %s) terminates; the flag-first variant is found',
    async (relax) => {
      const ok = await explore(flagHandoff({ relax }), settings);
      expect(ok.failures).toBe(0);
      expect(ok.models[0].runs).toBeGreaterThan(0);
      expect(ok.models[0].outcomes.map((o) => o.outcome)).toEqual(['seen 42']);
      if (strategy === 'dfs') expect(ok.models[0].exhausted).toBe(true);
      const bad = await explore(flagHandoff({ relax, broken: true }), settings);
      expect(bad.failures).toBe(1);
      expect(bad.models[0].failure?.messages[0]).toBe('consumer read data 0 after the flag was up');
      // the shrunk schedule replays to the same failure
      const r = replay(flagHandoff({ relax, broken: true }), bad.models[0].failure?.shrunk ?? '');
      expect(r.failed).toBe(true);
      expect(r.messages[0]).toBe('consumer read data 0 after the flag was up');
    },
  );

  it('CPUs spinning on xchg for a test-and-set lock terminate; the unlocked counter loses an update', async () => {
    const ok = await explore(tasCounter({ cpus: 2, adds: 2 }), settings);
    expect(ok.failures).toBe(0);
    if (strategy === 'dfs') {
      expect(ok.models[0].exhausted).toBe(true);
      expect(ok.models[0].runs).toBeGreaterThan(1); // the execution count of the bounded search
    }
    const bad = await explore(tasCounter({ broken: true }), settings);
    expect(bad.models[0].failure?.messages[0]).toMatch(/^counter is [0-3], expected 4$/);
  });

  it('a spin that nobody can end is reported as a livelock, with a replayable schedule', async () => {
    const r = await explore(neverRaised, settings);
    expect(r.failures).toBe(1);
    const f = r.models[0].failure;
    expect(f?.messages[0]).toMatch(/^livelock: CPU0 spun 10000 steps on words no CPU changes/);
    expect(r.models[0].steps).toBeLessThan(50_000);
    expect(replay(neverRaised, f?.shrunk ?? '').failed).toBe(true);
  });
});

it('a run that never ends stops at --max-steps and is reported as a possible livelock', async () => {
  const r = await explore(countsForever, { runs: 5, maxSteps: 2_000 });
  expect(r.failures).toBe(1);
  expect(r.models[0].failure?.messages[0]).toBe('possible livelock: the run exceeded its step limit (max-steps 2000)');
  expect(r.models[0].steps).toBe(2_000);
});

it('a model that runs no kernel code is explored once, not once per profile', async () => {
  const r = await explore(tasCounter(), { runs: 10 });
  expect(r.models).toHaveLength(1);
  expect(r.models[0].profile).toBeNull();
  expect(r.models[0].failure).toBeUndefined();
});
