// The worked example of docs/memory-models.md: a seqlock whose reader has no smp_rmb()
// holds under sc and tso (every execution), is found under arm, shrunk to a v2 schedule
// that replays with a stale read; the seqlock with its barriers holds in all three modes.
import { describe, expect, it } from 'vitest';
import { explore, type MemoryModel, replay } from '../src/index.js';
import { traceLines } from '../src/race/run.js';
import seqlock, { noRmb } from './fixtures/seqlock.model.js';

/** Every execution under sc and tso; under arm (thousands more) every one within 2 preemptions. */
const everyExecution = (model: typeof seqlock, memoryModel: MemoryModel) =>
  explore(model, { strategy: 'dfs', preemptionBound: memoryModel === 'arm' ? 2 : Infinity, memoryModel, runs: 1_000_000 });

describe('the seqlock of docs/memory-models.md', () => {
  it.each(['sc', 'tso', 'arm'] as MemoryModel[])(
    'with its smp_rmb()s: every execution holds under %s (arm: within 2 preemptions)',
    async (mode) => {
      const r = (await everyExecution(seqlock, mode)).models[0];
      expect(r.exhausted).toBe(true);
      expect(r.failure).toBeUndefined();
      // the reader keeps the data before the write, or after it, or retries
      expect(r.outcomes.map((o) => o.outcome).sort()).toEqual(['0,0,0', '2,1,1', 'retry']);
    },
  );

  it.each(['sc', 'tso'] as MemoryModel[])('without them: every execution holds under %s (loads stay in order)', async (mode) => {
    const r = (await everyExecution(noRmb, mode)).models[0];
    expect(r.exhausted).toBe(true);
    expect(r.failure).toBeUndefined();
  });

  it('without them: arm finds a kept reading that is not the data of its sequence; the shrunk schedule replays it with a stale read', async () => {
    const r = (await explore(noRmb, { strategy: 'dfs', memoryModel: 'arm' })).models[0];
    expect(r.failure?.messages[0]).toMatch(/^the reader kept \(\d, \d\) under sequence \d$/);
    const shrunk = r.failure!.shrunk;
    expect(shrunk).toMatch(/^v2:seqlock-no-rmb:-:none:\d+:arm:/);
    const again = replay(noRmb, shrunk);
    expect(again.failed).toBe(true);
    expect(again.memoryModel).toBe('arm');
    expect(traceLines(again.trace).some((l) => /CPU1 {2}load \[\d+\] 0x\d+ \(stale: memory 0x\d+\)/.test(l))).toBe(true);
  });
});
