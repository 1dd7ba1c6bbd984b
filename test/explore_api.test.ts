// explore() and replay() from code: the same report as `race --json`, spread over worker
// threads for a model defined in a file, sharded, and refused settings.
import { describe, expect, it } from 'vitest';
import { explore, replay } from 'slabsim';
import ring, { publishEarly } from './fixtures/ring.model.js';

describe('explore()', () => {
  it('spreads the runs of a model from a file over worker threads, and finds its bug there', async () => {
    const ok = await explore(ring, { runs: 40, workers: 2 });
    expect(ok).toMatchObject({ schema: 'slabsim-race/2', runs: 80, failures: 0, shard: '0/1' });
    const bad = await explore(publishEarly, { runs: 2000, workers: 2, strategy: 'pct' });
    expect(bad.failures).toBe(1);
    const f = bad.models[0].failure;
    expect(f?.replay).toMatch(
      /^npx slabsim replay 'v1:vyukov-ring-publish-early:-:none:\d+:\w+' --model \.\/test\/fixtures\/ring\.model\.ts --trace$/,
    );
    expect(replay(publishEarly, f?.shrunk ?? '').messages).toEqual(['a consumer took 0, which no producer sent']);
  });

  it('shards: two halves make the whole, without a run in common', async () => {
    const whole = await explore(ring, { runs: 30, seed: 5 });
    const halves = await Promise.all([0, 1].map((k) => explore(ring, { runs: 15, seed: 5, shard: `${k}/2` })));
    expect(halves.map((h) => h.shard)).toEqual(['0/2', '1/2']);
    expect(halves[0].runs + halves[1].runs).toBe(30);
    expect(whole.runs).toBe(30);
  });

  it('refuses bad settings with a SlabError that says what was expected', async () => {
    await expect(explore(ring, { strategy: 'bfs' as 'dfs' })).rejects.toThrow(
      "strategy must be one of random, pct, dfs, dpor, got 'bfs'",
    );
    await expect(explore(ring, { runs: 0 })).rejects.toThrow('runs must be an integer from 1 to 1000000000, got 0');
    await expect(explore(ring, { shard: '2/2' })).rejects.toThrow("shard is '2/2': expected K/N with 0 <= K < N");
    await expect(explore(ring, { budget: 'soon' })).rejects.toThrow(
      "budget must be milliseconds or a duration like 30s, got 'soon'",
    );
  });
});

describe('replay()', () => {
  it('gives every step with its accesses, and refuses a schedule of another model', () => {
    const r = replay(publishEarly, 'v1:vyukov-ring-publish-early:-:none:1:a10b13');
    expect(r).toMatchObject({ model: 'vyukov-ring-publish-early', profile: null, seed: 1, failed: true, finished: true });
    expect(r.trace.length).toBe(r.steps);
    const cas = r.trace.flatMap((t) => t.accesses ?? []).filter((a) => a.kind === 'cas');
    expect(cas.length).toBeGreaterThan(0);
    expect(cas.every((a) => typeof a.ok === 'boolean')).toBe(true);
    expect(() => replay(ring, 'v1:vyukov-ring-publish-early:-:none:1:a10b13')).toThrow(
      "schedule is for model 'vyukov-ring-publish-early', which is not the model given ('vyukov-ring')",
    );
  });
});
