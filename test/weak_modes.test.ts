// The memory modes (docs/memory-models.md): the verdicts of memory-models.md §6 and the
// rules behind them, each from every execution of a small program (dfs with no bound),
// the primitives' orderings, the refusals of js, schedule strings v2, traces, and the
// debug check of plain accesses.
import { describe, expect, it } from 'vitest';
import {
  add32,
  atomicLoad32,
  atomicStore32,
  cas32,
  cas32Acquire,
  cas32Relaxed,
  cas64,
  cmpxchg32,
  cmpxchg32Release,
  explore,
  fence,
  load32,
  loadAcquire32,
  loadDep32,
  type MemoryModel,
  type Model,
  ModelError,
  replay,
  spinLock,
  spinUnlock,
  store32,
  storeRelease32,
  waitWhileAcquire,
  xchg32,
  xchg32Relaxed,
  xchg32Release,
} from '../src/index.js';
import { runRace, traceLines } from '../src/race/run.js';
import { LenientReplayStrategy } from '../src/sched/shrink.js';
import { assertNoRace, assertRace } from '../src/vitest.js';
import { decodeTokens, encodeTokens, readToken } from '../src/sched/schedule.js';
import { site } from '../src/sched/step.js';
import { shape } from './models/shapes.js';

const S = site('weak-test');

/** Every final state of `model` in `mode` (dfs, no bound: every execution). */
async function outcomes(model: Model, mode: MemoryModel): Promise<Set<string>> {
  const r = await explore(model, { strategy: 'dfs', preemptionBound: Infinity, runs: 200_000, memoryModel: mode });
  const m = r.models[0];
  expect(m.exhausted, `${model.name} under ${mode}: every execution`).toBe(true);
  expect(m.failure).toBeUndefined();
  return new Set(m.outcomes.map((o) => o.outcome));
}

// SB: T0 x=1; r0=y   T1 y=1; r1=x   (asked: r0=0 and r1=0)
const sb = (between?: 'mb') =>
  shape(`SB${between ? `+${between}` : ''}`, 2, function* ({ m, x, y, r }, c) {
    yield* store32(m, c === 0 ? x : y, 1, S);
    if (between) yield* fence(m, between, S);
    r[c] = yield* load32(m, c === 0 ? y : x, S);
  });

// MP: T0 x=1; y=1   T1 r0=y; r1=x   (asked: r0=1 and r1=0)
const mp = (kind: 'po' | 'wmb+rmb' | 'rel+acq' | 'wmb+dep' | 'wmb+po') =>
  shape(`MP+${kind}`, 2, function* ({ m, x, y, r }, c) {
    if (c === 0) {
      yield* store32(m, x, 1, S);
      if (kind.startsWith('wmb')) yield* fence(m, 'wmb', S);
      yield* (kind === 'rel+acq' ? storeRelease32 : store32)(m, y, 1, S);
    } else {
      r[0] = yield* (kind === 'rel+acq' ? loadAcquire32 : load32)(m, y, S);
      if (kind === 'wmb+rmb') yield* fence(m, 'rmb', S);
      r[1] = yield* (kind === 'wmb+dep' ? loadDep32 : load32)(m, x, S);
    }
  });

// LB: T0 r0=x; y=1   T1 r1=y; x=1   (asked: r0=1 and r1=1)
const lb = shape('LB', 2, function* ({ m, x, y, r }, c) {
  r[c] = yield* load32(m, c === 0 ? x : y, S);
  yield* store32(m, c === 0 ? y : x, 1, S);
});

// IRIW: T0 x=1   T1 r0=x; r1=y   T2 y=1   T3 r2=y; r3=x   (asked: 1,0,1,0)
const iriw = (between?: 'rmb' | 'mb') =>
  shape(
    `IRIW${between ? `+${between}` : ''}`,
    4,
    function* ({ m, x, y, r }, c) {
      if (c === 0 || c === 2) return yield* store32(m, c === 0 ? x : y, 1, S);
      const at = c === 1 ? 0 : 2;
      r[at] = yield* load32(m, c === 1 ? x : y, S);
      if (between) yield* fence(m, between, S);
      r[at + 1] = yield* load32(m, c === 1 ? y : x, S);
    },
    { registers: 4 },
  );

// 2+2W: T0 x=1; y=2   T1 y=1; x=2   (asked: finally x=1 and y=1)
const w22 = (between?: 'wmb' | 'mb') =>
  shape(
    `2+2W${between ? `+${between}` : ''}`,
    2,
    function* ({ m, x, y }, c) {
      yield* store32(m, c === 0 ? x : y, 1, S);
      if (between) yield* fence(m, between, S);
      yield* store32(m, c === 0 ? y : x, 2, S);
    },
    { outcome: ({ m, x, y }) => `x=${m.u32[x]} y=${m.u32[y]}` },
  );

const has = (set: Set<string>, o: string): boolean => set.has(o);

describe('the verdicts of memory-models.md §6, from every execution', () => {
  it('SB: forbidden under sc, allowed under tso, arm and js; smp_mb on both sides forbids it', async () => {
    const plain = { sc: await outcomes(sb(), 'sc'), tso: await outcomes(sb(), 'tso'), arm: await outcomes(sb(), 'arm') };
    expect(plain.sc.size).toBe(3);
    expect(has(plain.sc, '0,0')).toBe(false);
    for (const mode of ['tso', 'arm'] as const) {
      expect(plain[mode].size, mode).toBe(4);
      expect(has(plain[mode], '0,0'), mode).toBe(true);
      expect(has(await outcomes(sb('mb'), mode), '0,0'), `${mode} with mb`).toBe(false);
    }
    expect(has(await outcomes(sb(), 'js'), '0,0')).toBe(true);
  });

  it('SB with Atomics under js: forbidden (atomic accesses are sequentially consistent)', async () => {
    const model = shape('SB+atomics', 2, function* ({ m, x, y, r }, c) {
      yield* atomicStore32(m, c === 0 ? x : y, 1, S);
      r[c] = yield* atomicLoad32(m, c === 0 ? y : x, S);
    });
    expect(await outcomes(model, 'js')).toEqual(new Set(['0,1', '1,0', '1,1']));
  });

  it('MP: forbidden under tso, allowed under arm and js; wmb+rmb and release+acquire forbid it', async () => {
    expect(has(await outcomes(mp('po'), 'tso'), '1,0')).toBe(false);
    const arm = await outcomes(mp('po'), 'arm');
    expect(arm.size).toBe(4);
    expect(has(arm, '1,0')).toBe(true);
    expect(has(await outcomes(mp('po'), 'js'), '1,0')).toBe(true);
    expect(has(await outcomes(mp('wmb+rmb'), 'arm'), '1,0')).toBe(false);
    expect(has(await outcomes(mp('rel+acq'), 'arm'), '1,0')).toBe(false);
    // a barrier on one side only does not (catalogue/aarch64 kinds: MP+dmb.st+po Allowed)
    expect(has(await outcomes(mp('wmb+po'), 'arm'), '1,0')).toBe(true);
  });

  it('an address-dependent load is ordered after the load it depends on (loadDep32); a plain one is not', async () => {
    expect(has(await outcomes(mp('wmb+dep'), 'arm'), '1,0')).toBe(false);
    expect(has(await outcomes(mp('wmb+po'), 'arm'), '1,0')).toBe(true);
    // JavaScript orders no dependency: under js loadDep32 is load32
    const js = shape('MP+dep', 2, function* ({ m, x, y, r }, c) {
      if (c === 0) {
        yield* store32(m, x, 1, S);
        yield* store32(m, y, 1, S);
      } else {
        r[0] = yield* load32(m, y, S);
        r[1] = yield* loadDep32(m, x, S);
      }
    });
    expect(has(await outcomes(js, 'js'), '1,0')).toBe(true);
  });

  it('LB: forbidden in every mode (no load-to-store reordering: the documented gap)', async () => {
    for (const mode of ['sc', 'tso', 'arm', 'js'] as const) {
      const o = await outcomes(lb, mode);
      expect(o.size, mode).toBe(3);
      expect(has(o, '1,1'), mode).toBe(false);
    }
  });

  it('IRIW: allowed under arm only, forbidden with rmb or mb between the reads (one global order of writes)', async () => {
    const tso = await outcomes(iriw(), 'tso');
    const arm = await outcomes(iriw(), 'arm');
    expect(has(tso, '1,0,1,0')).toBe(false);
    expect(has(arm, '1,0,1,0')).toBe(true);
    // reachable register states: 15 under tso (as sc), 16 under arm (memory-models.md §6)
    expect(tso.size).toBe(15);
    expect(arm.size).toBe(16);
    expect(has(await outcomes(iriw('rmb'), 'arm'), '1,0,1,0')).toBe(false);
    expect(has(await outcomes(iriw('mb'), 'arm'), '1,0,1,0')).toBe(false);
  });

  it('2+2W: the buffers drain in every order the mode allows: x=1 y=1 only under arm, and not with wmb', async () => {
    expect(has(await outcomes(w22(), 'tso'), 'x=1 y=1')).toBe(false);
    expect(await outcomes(w22(), 'arm')).toEqual(new Set(['x=1 y=1', 'x=1 y=2', 'x=2 y=1', 'x=2 y=2']));
    expect(has(await outcomes(w22('wmb'), 'arm'), 'x=1 y=1')).toBe(false);
    expect(has(await outcomes(w22('mb'), 'arm'), 'x=1 y=1')).toBe(false);
  });

  it('coherence (CoRR, CoWR, CoRW): no CPU sees a word go back in time, in any mode', async () => {
    const corr = shape('CoRR', 2, function* ({ m, x, r }, c) {
      if (c === 0) yield* store32(m, x, 1, S);
      else {
        r[0] = yield* load32(m, x, S);
        r[1] = yield* load32(m, x, S);
      }
    });
    const cowr = shape(
      'CoWR',
      2,
      function* ({ m, x, r }, c) {
        yield* store32(m, x, c + 1, S);
        if (c === 0) r[0] = yield* load32(m, x, S);
      },
      { outcome: ({ m, x, r }) => `r0=${r[0]} x=${m.u32[x]}` },
    );
    const corw = shape(
      'CoRW',
      2,
      function* ({ m, x, r }, c) {
        if (c === 0) {
          r[0] = yield* load32(m, x, S);
          yield* store32(m, x, 1, S);
        } else yield* store32(m, x, 2, S);
      },
      { outcome: ({ m, x, r }) => `r0=${r[0]} x=${m.u32[x]}` },
    );
    for (const mode of ['tso', 'arm', 'js'] as const) {
      expect(has(await outcomes(corr, mode), '1,0'), `CoRR ${mode}`).toBe(false);
      const wr = await outcomes(cowr, mode);
      expect(
        [...wr].filter((o) => o.startsWith('r0=0') || o === 'r0=2 x=1'),
        `CoWR ${mode}`,
      ).toEqual([]);
      expect(has(await outcomes(corw, mode), 'r0=2 x=2'), `CoRW ${mode}`).toBe(false);
    }
  });
});

describe('store buffers and the primitives', () => {
  it('a CPU reads its own buffered store before anyone else can (store forwarding)', async () => {
    // T0: x=1; r0=x; r1=y   T1: y=1; r2=y; r3=x   (SB+rfi-pos: allowed under x86-TSO)
    const model = shape(
      'SB+rfi',
      2,
      function* ({ m, x, y, r }, c) {
        yield* store32(m, c === 0 ? x : y, 1, S);
        r[2 * c] = yield* load32(m, c === 0 ? x : y, S);
        r[2 * c + 1] = yield* load32(m, c === 0 ? y : x, S);
      },
      { registers: 4 },
    );
    for (const mode of ['tso', 'arm'] as const) {
      const o = await outcomes(model, mode);
      expect(has(o, '1,0,1,0'), mode).toBe(true);
      expect(
        [...o].every((s) => s.split(',')[0] === '1' && s.split(',')[2] === '1'),
        mode,
      ).toBe(true);
    }
  });

  it('read-modify-writes: fully ordered and release forms publish what came before, relaxed ones do not', async () => {
    const publish = (how: 'full' | 'release' | 'relaxed') =>
      shape(`MP+xchg-${how}`, 2, function* ({ m, x, y, r }, c) {
        if (c === 0) {
          yield* store32(m, x, 1, S);
          yield* (how === 'full' ? xchg32 : how === 'release' ? xchg32Release : xchg32Relaxed)(m, y, 1, S);
        } else {
          r[0] = yield* loadAcquire32(m, y, S);
          r[1] = yield* load32(m, x, S);
        }
      });
    expect(has(await outcomes(publish('relaxed'), 'arm'), '1,0')).toBe(true);
    expect(has(await outcomes(publish('release'), 'arm'), '1,0')).toBe(false);
    expect(has(await outcomes(publish('full'), 'arm'), '1,0')).toBe(false);
    // the reader's acquire RMW orders its later load (cas32Acquire that takes)
    const acquire = shape('MP+cas-acquire', 2, function* ({ m, x, y, r }, c) {
      if (c === 0) {
        yield* store32(m, x, 1, S);
        yield* storeRelease32(m, y, 1, S);
      } else {
        r[0] = (yield* cas32Acquire(m, y, 1, 2, S)) ? 1 : 0;
        r[1] = yield* load32(m, x, S);
      }
    });
    expect(has(await outcomes(acquire, 'arm'), '1,0')).toBe(false);
  });

  it('cmpxchg32 returns the value it found: of two CPUs, one takes the word, the other sees it taken', async () => {
    const race = shape('cmpxchg-race', 2, function* ({ m, x, r }, c) {
      r[c] = yield* (c === 0 ? cmpxchg32 : cmpxchg32Release)(m, x, 0, c + 5, S);
    });
    for (const mode of ['sc', 'tso', 'arm'] as const) expect(await outcomes(race, mode), mode).toEqual(new Set(['0,5', '6,0']));
  });

  it('a CAS that fails is a plain load under arm (no barrier), LOCK-ed under tso; one that takes is a full barrier', async () => {
    // SB where T0 has a CAS on z between its store and its load
    const sbCas = (expect0: number) =>
      shape(`SB+cas${expect0}`, 2, function* ({ m, x, y, z, r }, c) {
        yield* store32(m, c === 0 ? x : y, 1, S);
        if (c === 0) yield* cas32(m, z, expect0, 7, S);
        else yield* fence(m, 'mb', S);
        r[c] = yield* load32(m, c === 0 ? y : x, S);
      });
    expect(has(await outcomes(sbCas(5), 'arm'), '0,0')).toBe(true);
    expect(has(await outcomes(sbCas(5), 'tso'), '0,0')).toBe(false);
    expect(has(await outcomes(sbCas(0), 'arm'), '0,0')).toBe(false);
    const relaxed = shape('SB+cas-relaxed', 2, function* ({ m, x, y, z, r }, c) {
      yield* store32(m, c === 0 ? x : y, 1, S);
      if (c === 0) yield* cas32Relaxed(m, z, 0, 7, S);
      else yield* fence(m, 'mb', S);
      r[c] = yield* load32(m, c === 0 ? y : x, S);
    });
    expect(has(await outcomes(relaxed, 'arm'), '0,0')).toBe(true);
  });

  it('spin_unlock then spin_lock on one CPU orders what came before against what comes after, but a store before a load', async () => {
    // MP+unlocklockonceonce+fencermbonceonce (herdtools7 catalogue/linux: Never)
    const mpUnlockLock = shape('MP+unlocklock+rmb', 2, function* ({ m, x, y, z, r }, c) {
      if (c === 0) {
        yield* spinLock(m, z, S);
        yield* store32(m, x, 1, S);
        yield* spinUnlock(m, z, S);
        yield* spinLock(m, z + 1, S);
        yield* store32(m, y, 1, S);
        yield* spinUnlock(m, z + 1, S);
      } else {
        r[0] = yield* load32(m, y, S);
        yield* fence(m, 'rmb', S);
        r[1] = yield* load32(m, x, S);
      }
    });
    expect(has(await outcomes(mpUnlockLock, 'arm'), '1,0')).toBe(false);
    // SB with unlock+lock between the store and the load stays allowed (LKMM recipes)
    const sbUnlockLock = shape('SB+unlocklock', 2, function* ({ m, x, y, z, r }, c) {
      if (c === 0) {
        yield* spinLock(m, z, S);
        yield* store32(m, x, 1, S);
        yield* spinUnlock(m, z, S);
        yield* spinLock(m, z + 1, S);
        r[0] = yield* load32(m, y, S);
        yield* spinUnlock(m, z + 1, S);
      } else {
        yield* store32(m, y, 1, S);
        yield* fence(m, 'mb', S);
        r[1] = yield* load32(m, x, S);
      }
    });
    expect(has(await outcomes(sbUnlockLock, 'arm'), '0,0')).toBe(true);
  });

  it("a lock waits for the unlock to leave the holder's store buffer, and mutual exclusion holds", async () => {
    const counter = shape(
      'locked-counter',
      2,
      function* ({ m, x, z }) {
        yield* spinLock(m, z, S);
        const v = yield* load32(m, x, S);
        yield* store32(m, x, v + 1, S);
        yield* spinUnlock(m, z, S);
      },
      { outcome: ({ m, x }) => `x=${m.u32[x]}` },
    );
    for (const mode of ['sc', 'tso', 'arm', 'js'] as const) expect(await outcomes(counter, mode), mode).toEqual(new Set(['x=2']));
  });

  it('under sc every new primitive is its plain form, and a fence is no schedule point', async () => {
    const body = (ordered: boolean) =>
      shape(ordered ? 'ordered' : 'plain', 2, function* ({ m, x, y, r }, c) {
        if (ordered) {
          yield* storeRelease32(m, x, c + 1, S);
          yield* fence(m, 'mb', S);
          r[c] = (yield* loadAcquire32(m, y, S)) + (yield* loadDep32(m, x, S));
          yield* xchg32Relaxed(m, y, 5, S);
          yield* waitWhileAcquire(m, y, 0, S);
        } else {
          yield* store32(m, x, c + 1, S);
          r[c] = (yield* load32(m, y, S)) + (yield* load32(m, x, S));
          yield* xchg32(m, y, 5, S);
          yield* add32(m, y, 0, S);
        }
      });
    const a = await explore(body(false), { strategy: 'dfs', preemptionBound: Infinity, runs: 100_000 });
    const b = await explore(body(true), { strategy: 'dfs', preemptionBound: Infinity, runs: 100_000 });
    expect(b.models[0].runs).toBe(a.models[0].runs);
    expect(b.models[0].outcomes).toEqual(a.models[0].outcomes);
  });

  it('js refuses, in one line naming it, a primitive JavaScript does not have', async () => {
    const uses = (name: string, f: (s: { m: Parameters<typeof load32>[0]; x: number }) => Generator<number, unknown, unknown>) =>
      shape(`uses-${name}`, 2, function* ({ m, x }) {
        yield* f({ m, x });
      });
    const cases: Array<[string, (s: { m: Parameters<typeof load32>[0]; x: number }) => Generator<number, unknown, unknown>]> = [
      ['loadAcquire32', ({ m, x }) => loadAcquire32(m, x, S)],
      ['storeRelease32', ({ m, x }) => storeRelease32(m, x, 1, S)],
      ["fence('wmb')", ({ m }) => fence(m, 'wmb', S)],
      ['cas32Relaxed', ({ m, x }) => cas32Relaxed(m, x, 0, 1, S)],
      ['xchg32Release', ({ m, x }) => xchg32Release(m, x, 1, S)],
    ];
    for (const [name, f] of cases) {
      const err = await explore(uses(name.replace(/\W/g, ''), f), { runs: 5, memoryModel: 'js' }).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ModelError);
      expect((err as Error).message).toMatch(
        new RegExp(`^model 'uses-\\w+': ${name.replace(/[()']/g, '\\$&')} does not exist under memory model js`),
      );
      expect((err as Error).message).not.toContain('\n');
      // the same model runs under arm
      const ok = await explore(uses(name.replace(/\W/g, ''), f), { runs: 5, memoryModel: 'arm' });
      expect(ok.models[0].failure, name).toBeUndefined();
    }
    // what js has: plain accesses, Atomics, the fully ordered read-modify-writes
    const fine = shape('js-fine', 2, function* ({ m, x }) {
      yield* store32(m, x, 1, S);
      yield* atomicStore32(m, x, 2, S);
      yield* cas64(m, x + 4, 0, 0, 1, 1, S);
      yield* add32(m, x, 1, S);
    });
    expect((await explore(fine, { runs: 20, memoryModel: 'js' })).models[0].failure).toBeUndefined();
  });
});

describe('schedule strings, replay and shrinking', () => {
  it('tokens: CPU steps, reads of older values, flushes, with repeat counts', () => {
    const n = 3;
    const tokens = [0, 0, 0, n + 1, n + 1, 2 * n, readToken(1, 2, n), readToken(1, 2, n), readToken(1, 2, n), 2, 3 * n + 2];
    const text = encodeTokens(n, tokens);
    expect(text).toBe('a3+b2+a.1b~2*3c+c.2');
    expect(decodeTokens(n, text, text)).toEqual(tokens);
    expect(() => decodeTokens(n, 'a~1+d', 'x')).toThrow(/CPU 'd' \(3\) but only 3 CPUs/);
    expect(() => decodeTokens(n, '+a~1', 'x')).toThrow(/a flush takes '\.j'/);
  });

  it('a failure under tso is a v2 string naming its mode that replays bit for bit, shrunk; sc still prints v1', async () => {
    const r = await explore(sbChecked, { runs: 500, memoryModel: 'tso' });
    const f = r.models[0].failure;
    expect(f?.shrunk).toMatch(/^v2:SB-checked:-:none:\d+:tso:/);
    expect(f?.preemptions.after).toBeLessThanOrEqual(f?.preemptions.before ?? 0);
    const once = replay(sbChecked, f?.shrunk ?? '');
    const twice = replay(sbChecked, f?.shrunk ?? '');
    expect(once.failed).toBe(true);
    expect(once.memoryModel).toBe('tso');
    expect(once.finished).toBe(true);
    expect(twice.trace).toEqual(once.trace);
    expect(f?.schedule && replay(sbChecked, f.schedule).failed).toBe(true);
    // the same model under sc: no failure, and its schedules are v1
    const sc = await explore(sbChecked, { runs: 200, memoryModel: 'sc' });
    expect(sc.models[0].failure).toBeUndefined();
    expect(sc.models[0].memory_model).toBeUndefined();
  });

  it('a schedule replays only in its own mode: v1 is sc', async () => {
    const r = await explore(sbChecked, { runs: 500, memoryModel: 'arm' });
    const s = r.models[0].failure?.shrunk ?? '';
    expect(s).toMatch(/^v2:SB-checked:-:none:\d+:arm:/);
    expect(() => replay(sbChecked, s, { memoryModel: 'tso' })).toThrow(/names memory model arm, not tso/);
    expect(() => replay(sbChecked, 'v1:SB-checked:-:none:1:a3', { memoryModel: 'arm' })).toThrow(
      /names memory model sc \(a v1 schedule\), not arm/,
    );
    expect(replay(sbChecked, 'v1:SB-checked:-:none:1:a3').memoryModel).toBe('sc');
    expect(() => replay(sbChecked, 'v2:SB-checked:-:none:1:weird:ab')).toThrow(/unknown memory model 'weird'/);
  });

  it('replay --trace shows buffered stores, flushes, store buffers after each step and stale reads', async () => {
    const tso = await explore(sbChecked, { runs: 500, memoryModel: 'tso' });
    const t = replay(sbChecked, tso.models[0].failure?.shrunk ?? '').trace;
    expect(t.some((s) => s.accesses?.some((a) => a.kind === 'store' && a.buffered))).toBe(true);
    expect(t.every((s) => s.buffers?.length === 2)).toBe(true);
    expect(t.some((s) => s.buffers?.some((b) => b.length > 0))).toBe(true);
    const lines = traceLines(t).join('\n');
    expect(lines).toMatch(/store \[\d+\] 0x1 \(buffered\)/);
    expect(lines).toMatch(/buffers: CPU\d \[\d+\]=0x1/);
    // under arm: a stale read of a word memory already holds newer, and flush steps
    const arm = await explore(mp('po'), { strategy: 'dfs', preemptionBound: Infinity, runs: 100_000, memoryModel: 'arm' });
    expect(arm.models[0].outcomes.some((o) => o.outcome === '1,0')).toBe(true);
    const stale = await explore(mpChecked, { runs: 2000, memoryModel: 'arm' });
    const at = replay(mpChecked, stale.models[0].failure?.shrunk ?? '').trace;
    expect(at.some((s) => s.accesses?.some((a) => a.kind === 'load' && a.stale === 1 && a.value === 0))).toBe(true);
    expect(at.some((s) => s.flush && s.accesses?.[0]?.kind === 'flush')).toBe(true);
    const text = traceLines(at).join('\n');
    expect(text).toMatch(/load \[\d+\] 0x0 \(stale: memory 0x1\)/);
    expect(text).toMatch(/CPU0 {2}flush \[\d+\] 0x1 \(its store buffer to memory\)/);
    expect(text).toMatch(/fence wmb/);
    // an smp_wmb between two pending stores is drawn as '|'
    const pending = [
      { word: 7, value: 1, epoch: 0 },
      { word: 9, value: 2, epoch: 1, release: true as const },
    ];
    expect(traceLines([{ cpu: 0, site: 'x', buffers: [pending, []] }])[1]).toBe('         buffers: CPU0 [7]=0x1 | [9]=0x2 rel');
  });
});

describe('the mode of a model, of a race test, and lenient replay', () => {
  it("a model's own memoryModel is its default; explore's memoryModel overrides it", async () => {
    const tsoByDefault: Model = { ...sbChecked, name: 'SB-tso-default', memoryModel: 'tso' };
    const r = await explore(tsoByDefault, { runs: 500 });
    expect(r.models[0].memory_model).toBe('tso');
    expect(r.models[0].failure?.shrunk).toMatch(/^v2:SB-tso-default:-:none:\d+:tso:/);
    const sc = await explore(tsoByDefault, { runs: 200, memoryModel: 'sc' });
    expect(sc.models[0].failure).toBeUndefined();
  });

  it('raceTest and expectRace take memoryModel (assertRace, assertNoRace)', async () => {
    const found = await assertRace(sbChecked, { runs: 500, memoryModel: 'arm' });
    expect(found.failure?.shrunk).toMatch(/:arm:/);
    const none = await assertNoRace(sbChecked, { runs: 200 });
    expect(none.failures).toBe(0);
    await expect(assertNoRace(sbChecked, { runs: 500, memoryModel: 'tso' })).rejects.toThrow(
      /race found in model 'SB-checked'.*both CPUs read 0/,
    );
  });

  it('lenient replay: an impossible flush falls back, a read choice out of range reads the oldest readable value', () => {
    // MP under arm: CPU0 runs first (a flush of CPU1's empty buffer in between falls back to
    // CPU0's step), its stores flushed, then CPU1 (alone: no decisions but its reads) reads
    // y and x asking each time for the 6th newest value, of two
    const n = 2;
    const tokens = [0, 0, 0, n + 0, 2 * n + 1, n + 0, readToken(1, 5, n), readToken(1, 5, n)];
    const r = runRace(
      { model: mpChecked, profile: null, mutant: null, seed: 1, memoryModel: 'arm' },
      new LenientReplayStrategy(tokens),
    );
    expect(r.result.outcome).toBe('ok');
    // what it made replays exactly, and its reads were clamped to the values there were
    expect(r.choices.every((t) => t >= 0 || t === readToken(1, 1, n))).toBe(true);
    expect(r.choices.filter((t) => t === readToken(1, 1, n))).toHaveLength(2);
    expect(r.outcome).toBe('0,0');
    const again = runRace(
      { model: mpChecked, profile: null, mutant: null, seed: 1, memoryModel: 'arm' },
      new LenientReplayStrategy(r.choices),
    );
    expect(again.choices).toEqual(r.choices);
    expect(again.outcome).toBe(r.outcome);
  });
});

describe('the free-running twins (slabsim stress)', () => {
  it('each ordered primitive does its access on real threads, at least as strongly as asked', async () => {
    const fast = await import('../src/shm/atomic.fast.js');
    const { create } = await import('../src/shm/machine.js');
    const m = create({ cpus: 1, memory: 1 << 20 });
    const w = m.cpuBase;
    fast.storeRelease32(m, w, 5, 0);
    fast.fence(m, 'mb', 0);
    fast.fence(m, 'wmb', 0);
    expect(fast.loadAcquire32(m, w, 0) + fast.loadDep32(m, w, 0) + fast.atomicLoad32(m, w, 0)).toBe(15);
    fast.atomicStore32(m, w, 6, 0);
    expect(fast.cas32Relaxed(m, w, 6, 7, 0) && fast.cas32Acquire(m, w, 7, 8, 0) && fast.cas32Release(m, w, 8, 9, 0)).toBe(true);
    expect(fast.xchg32Relaxed(m, w, 1, 0) + fast.add32Release(m, w, 2, 0)).toBe(10);
    expect(fast.cas64Acquire(m, w, 3, 0, 4, 4, 0)).toBe(true);
    expect([m.u32[w], m.u32[w + 1]]).toEqual([4, 4]);
    expect(() => fast.fence(m, 'lfence' as 'mb', 0)).toThrow(/fence: kind must be 'mb', 'wmb' or 'rmb', got 'lfence'/);
  });
});

describe('the debug check of plain accesses', () => {
  it('fails a run whose CPU reads plainly a word it has a store pending to', async () => {
    const plainRead = shape('plain-read', 2, function* ({ m, x, r }, c) {
      yield* store32(m, x + c, 1, S);
      r[c] = m.u32[x + c]; // misses the CPU's own buffered store
      yield* load32(m, x + 1 - c, S);
    });
    const r = await explore(plainRead, { runs: 50, memoryModel: 'tso' });
    expect(r.models[0].failure?.messages[0]).toMatch(
      /invariant broken: a CPU never accesses plainly a word pending in its own store buffer: CPU\d read word \d+ with a plain m\.u32 access/,
    );
    expect((await explore(plainRead, { runs: 50, memoryModel: 'sc' })).models[0].failure).toBeUndefined();
  });
});

// SB with a check: both loads saw 0 is a violation (found under tso, arm, js; never under sc).
const sbChecked = shape(
  'SB-checked',
  2,
  function* ({ m, x, y, r }, c) {
    yield* store32(m, c === 0 ? x : y, 1, S);
    r[c] = yield* load32(m, c === 0 ? y : x, S);
  },
  { forbid: ['0,0', 'both CPUs read 0: a store-load reordering'] },
);

// MP with a check: the reader saw the flag but not the data (found under arm: the
// writer's smp_wmb makes memory hold the data first, so only a stale read misses it).
const mpChecked = shape(
  'MP-checked',
  2,
  function* ({ m, x, y, r }, c) {
    if (c === 0) {
      yield* store32(m, x, 1, S);
      yield* fence(m, 'wmb', S);
      yield* store32(m, y, 1, S);
    } else {
      r[0] = yield* load32(m, y, S);
      r[1] = yield* load32(m, x, S);
    }
  },
  { forbid: ['1,0', 'flag seen, data not'] },
);
