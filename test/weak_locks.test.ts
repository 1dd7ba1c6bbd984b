// Peterson's lock under the memory modes (issue 18, "Done when"): without fences it holds
// under sc and fails under tso and arm; smp_mb() after the turn store fixes tso but not
// arm (the flag and turn stores may become visible in either order); with a fence between
// them as well, and one after the spin, it holds in all three. Each failure is shrunk
// and replays.
import { describe, expect, it } from 'vitest';
import { explore, type MemoryModel, replay } from '../src/index.js';
import { type LockOptions, peterson } from './models/locks.js';

const BROKEN = /^CPU\d: two CPUs in the critical section$/;

async function holds(opts: LockOptions, mode: MemoryModel): Promise<void> {
  for (const strategy of ['random', 'pct'] as const) {
    const r = await explore(peterson(opts), { strategy, runs: 400, memoryModel: mode });
    expect(r.models[0].failure?.messages, `${strategy} under ${mode}`).toBeUndefined();
    expect(r.models[0].outcomes.map((o) => o.outcome)).toEqual(['counter 4']);
  }
}

async function fails(opts: LockOptions, mode: MemoryModel): Promise<void> {
  const model = peterson(opts);
  const r = await explore(model, { runs: 2000, memoryModel: mode });
  const f = r.models[0].failure;
  expect(f?.messages[0], `found under ${mode}`).toMatch(BROKEN);
  expect(f?.shrunk).toMatch(new RegExp(`^v2:${model.name}:-:none:\\d+:${mode}:`));
  expect(f?.preemptions.after).toBeLessThanOrEqual(f?.preemptions.before ?? 0);
  const again = replay(model, f?.shrunk ?? '');
  expect(again.failed).toBe(true);
  expect(again.messages[0]).toMatch(BROKEN);
}

describe("Peterson's lock under the memory modes", () => {
  it('without fences: holds under sc, fails under tso and arm', async () => {
    await holds({ relax: true }, 'sc');
    await fails({ relax: true }, 'tso');
    await fails({ relax: true }, 'arm');
  });

  it('with smp_mb() after the turn store: holds under tso, still fails under arm', async () => {
    await holds({ relax: true, fences: 'turn' }, 'tso');
    await fails({ relax: true, fences: 'turn' }, 'arm');
  });

  it('with a fence between the flag and turn stores as well, and after the spin: holds under sc, tso and arm', async () => {
    for (const mode of ['sc', 'tso', 'arm'] as const) await holds({ relax: true, fences: 'all' }, mode);
  });

  it('the failure under tso is the flag store waiting in the store buffer while the other CPU reads past it', async () => {
    const r = await explore(peterson({ relax: true }), { runs: 2000, memoryModel: 'tso' });
    const t = replay(peterson({ relax: true }), r.models[0].failure?.shrunk ?? '').trace;
    // some CPU loaded the other's flag as 0 while that flag's store of 1 sat in the other's buffer
    const sawStaleFlag = t.some(
      (s) =>
        s.accesses?.some(
          (a) => a.kind === 'load' && a.value === 0 && s.buffers?.[1 - s.cpu].some((e) => e.word === a.word && e.value === 1),
        ) ?? false,
    );
    expect(sawStaleFlag).toBe(true);
  });
});
