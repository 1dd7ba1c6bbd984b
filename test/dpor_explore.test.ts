// `strategy: 'dpor'` through explore(): its counts against every interleaving counted
// the slow way, what it reports for a deadlock, a wait nobody ends, a loop it took for
// a wait, a model that does not end or is not deterministic, shards that split one
// search, and a preemption bound against dfs's.
import { describe, expect, it } from 'vitest';
import {
  add32,
  alloc,
  builtInModel,
  cas32,
  defineModel,
  explore,
  load32,
  type Model,
  replay,
  site,
  spinLock,
  spinUnlock,
  spinTrylock,
  store32,
  waitWhile,
  word,
} from '../src/index.js';
import { pop, push } from '../src/examples/treiber.js';
import { allocPages } from '../src/mm/page_alloc.fast.js';
import { dporMemoryModelRefusal, mergeReports } from '../src/race/explore.js';
import { exploreDpor, type DporTrial } from '../src/sched/dpor/search.js';
import { runScheduled } from '../src/sched/scheduler.js';
import type { Step } from '../src/sched/step.js';
import { addrWord, create, type Machine, pfnToAddr } from '../src/shm/machine.js';
import { bruteTraces, namingTrial } from './dpor_brute.js';

const S = site('dpor-test');

/** A model of `cpus` CPUs running `body` on 8 zeroed words. */
const model = (name: string, cpus: number, body: (m: Machine, w: number, cpu: number) => Step<unknown>, extra = {}): Model =>
  defineModel({
    name,
    cpus,
    ...extra,
    create(m) {
      const w = word(m, alloc(m, 32));
      return { thread: (cpu) => body(m, w, cpu.id), outcome: () => `${m.u32[w]} ${m.u32[w + 1]} ${m.u32[w + 2]}` };
    },
  });

/** A trial from a fresh stack of three nodes at `w` (a pair: tag, top), or zeroed words. */
function trialOf(cpus: number, body: (m: Machine, w: number, cpu: number) => Step<unknown>): DporTrial {
  const m = create({ cpus, nodes: 1, memory: 1 << 20, profile: '6.6' });
  const base = pfnToAddr(m, allocPages(m, 0, 0, 0));
  const w = addrWord(m, base);
  return (strategy, unfair) => {
    m.u32.fill(0, w, w + 128);
    for (let i = 3; i >= 1; i--) {
      m.u32[addrWord(m, base + 64 * i)] = m.u32[w + 1];
      m.u32[w + 1] = base + 64 * i;
    }
    return runScheduled(
      Array.from({ length: cpus }, (_, c) => body(m, w, c)),
      strategy,
      { unfair, memory: m.u32 },
    );
  };
}

describe('the counts are the number of traces, counted by running every interleaving', () => {
  /**
   * [name, cpus, one CPU's program, traces counted by hand or null] run from zeroed words.
   * trylock: CPU0's trylock takes the lock first (1), or fails while CPU1 holds it (1),
   * or takes it after CPU1's unlock (1). waitWhile: the CAS that wins (2); the other CAS
   * fails, reading it, and every later access only reads.
   */
  const programs: Array<[string, number, (m: Machine, w: number, cpu: number) => Step<unknown>, number | null]> = [
    [
      'a Treiber pop and push against a pop (CAS loops, cas64)',
      2,
      function* (m, w, cpu) {
        const a = yield* pop(m, w);
        if (cpu === 0 && a) yield* push(m, w, a);
      },
      null,
    ],
    [
      'trylock, lock and a counter',
      2,
      function* (m, w, cpu) {
        if (cpu === 0) {
          if (yield* spinTrylock(m, w + 4, S)) {
            yield* add32(m, w + 5, 1, S);
            yield* spinUnlock(m, w + 4, S);
          }
        } else {
          yield* spinLock(m, w + 4, S);
          yield* store32(m, w + 5, 7, S);
          yield* spinUnlock(m, w + 4, S);
        }
      },
      3,
    ],
    [
      'a waitWhile on a flag, a CAS race on another word',
      3,
      function* (m, w, cpu) {
        if (cpu === 0) yield* waitWhile(m, w + 4, 0, S);
        else if (cpu === 1) {
          yield* cas32(m, w + 5, 0, 1, S);
          yield* store32(m, w + 4, 1, S);
        } else yield* cas32(m, w + 5, 0, 2, S);
        yield* load32(m, w + 5, S);
      },
      2,
    ],
  ];
  it.each(programs)('%s', (_name, cpus, body, byHand) => {
    const trial = trialOf(cpus, body);
    const brute = bruteTraces(trial);
    expect(brute.failed).toBe(0);
    if (byHand !== null) expect(brute.traces).toBe(byHand);
    for (const algorithm of ['optimal', 'source'] as const) {
      const r = exploreDpor(trial, { algorithm, preemptionBound: Infinity });
      expect(r).toMatchObject({ complete: brute.traces, blocked: 0, exhausted: true });
      if (algorithm === 'optimal') expect(r.sleepBlocked).toBe(0);
    }
  });
});

describe('under a preemption bound: every trace a schedule within the bound reaches', () => {
  // [BPOR]: pruned by sleep sets or wakeup trees, a bounded search missed 128 of the 156
  // traces within 1 preemption of the Treiber stack; classic DPOR with conservative
  // branches misses none.
  const pushPop = function* (m: Machine, w: number, cpu: number): Step<void> {
    const a = yield* pop(m, w);
    if (cpu === 0 && a) yield* push(m, w, a);
  };
  it.each([0, 1, 2])('bound %i', (bound) => {
    const trial = trialOf(2, pushPop);
    const brute = bruteTraces(trial, { bound });
    expect(brute.failed).toBe(0);
    for (const algorithm of ['optimal', 'source'] as const) {
      const names = new Set<string>();
      const r = exploreDpor(namingTrial(trial, names), { algorithm, preemptionBound: bound });
      expect(r).toMatchObject({ bound, exhausted: true, blocked: 0 });
      expect([...brute.names].filter((t) => !names.has(t))).toEqual([]);
      expect(r.runs).toBeLessThanOrEqual(brute.runs);
    }
  });
});

describe('what dpor reports', () => {
  it("a CAS retry loop the fair scheduler suspects of spinning is no wait to dpor (SLUB's __slab_free)", async () => {
    // CPU1's cmpxchg_double fails, and its retry reads the slab's words a third time:
    // the fair scheduler holds it back as a spinner, but its next iteration differs.
    const r = await explore(builtInModel('concurrent-remote-frees'), { strategy: 'dpor', profiles: ['6.6'] });
    expect(r.models[0].failure).toBeUndefined();
    expect(r.models[0].dpor).toMatchObject({ complete: 10642, blocked: 0, sleep_blocked: 0, exhausted: true });
  });

  it('words shared by plain accesses (m.u32 under a lock) are dependencies too', async () => {
    // CPU0 writes w plainly under the lock; CPU1 reads it with load32 without the lock:
    // before or after the write, two traces (one, were the plain write in no event)
    const plain = model('dpor-plain-under-lock', 2, function* (m, w, cpu) {
      if (cpu === 1) return yield* load32(m, w, S);
      yield* spinLock(m, w + 4, S);
      m.u32[w] = 1;
      yield* spinUnlock(m, w + 4, S);
    });
    for (const dpor of ['optimal', 'source'] as const) {
      const r = await explore(plain, { strategy: 'dpor', dpor });
      expect(r.models[0].dpor).toMatchObject({ complete: 2, blocked: 0, sleep_blocked: 0, exhausted: true });
    }
  });

  it('a deadlock is a failure whose schedule replays to it', async () => {
    const abba = model('dpor-abba', 2, function* (m, w, cpu) {
      const [x, y] = cpu === 0 ? [w, w + 1] : [w + 1, w];
      yield* spinLock(m, x, S);
      yield* spinLock(m, y, S);
      yield* spinUnlock(m, y, S);
      yield* spinUnlock(m, x, S);
    });
    const r = await explore(abba, { strategy: 'dpor' });
    const m = r.models[0];
    expect(m.dpor).toMatchObject({ blocked: 1, exhausted: false });
    expect(m.failure?.messages[0]).toMatch(/^deadlock: every live CPU is blocked/);
    expect(replay(abba, m.failure?.shrunk ?? '').messages[0]).toMatch(/^deadlock/);
  });

  it('a loop that reads nothing (a walk over local state) is no wait: it repeats bare schedule points', async () => {
    const walk = model('dpor-local-walk', 2, function* (m, w, cpu) {
      if (cpu === 1) return yield* store32(m, w + 2, 1, S);
      const v = yield* load32(m, w, S);
      for (let i = 0; i < 4; i++) yield S;
      yield* store32(m, w + 1, v + 1, S);
    });
    const r = await explore(walk, { strategy: 'dpor' });
    expect(r.models[0].failure).toBeUndefined();
    expect(r.models[0].dpor).toMatchObject({ complete: 1, blocked: 0, exhausted: true });
  });

  it('a wait nobody ends is a livelock, found and replayed', async () => {
    const waits = model('dpor-wait-forever', 2, function* (m, w, cpu) {
      if (cpu === 0) while ((yield* load32(m, w, S)) === 0) continue;
      else yield* store32(m, w + 1, 1, S);
    });
    const r = await explore(waits, { strategy: 'dpor' });
    expect(r.models[0].dpor?.blocked).toBe(1);
    expect(r.models[0].failure?.messages[0]).toMatch(/^livelock: CPU0 spun/);
    expect(replay(waits, r.models[0].failure?.shrunk ?? '').failed).toBe(true);
  });

  it('a loop that gives up after a count, taken for a wait, is refused: dpor cannot vouch for it', async () => {
    const retry = model('dpor-bounded-retry', 2, function* (m, w, cpu) {
      if (cpu === 1) return yield* store32(m, w + 1, 1, S);
      for (let i = 0; i < 5; i++) if ((yield* load32(m, w, S)) !== 0) return;
      yield* store32(m, w + 2, 1, S);
    });
    await expect(explore(retry, { strategy: 'dpor' })).rejects.toThrow(
      /^model 'dpor-bounded-retry': dpor: CPU0 judged to wait for a change nobody makes, but run by the fair scheduler the program went on: .*spin-assume/,
    );
  });

  it('a model that does not end: one line with the step limit and a schedule', async () => {
    const forever = model('dpor-forever', 2, function* (m, w, cpu) {
      for (;;) yield* add32(m, w + cpu, 1, S);
    });
    await expect(explore(forever, { strategy: 'dpor', maxSteps: 200 })).rejects.toThrow(
      /^model 'dpor-forever': dpor needs every run to end, but one ran past its step limit \(max-steps 200\): v1:dpor-forever:-:none:1:\w*$/,
    );
  });

  it('a model that does something else when the same schedule is replayed: not deterministic, naming the step', async () => {
    let runs = 0;
    const flaky = defineModel({
      name: 'dpor-flaky',
      cpus: 2,
      create(m) {
        const w = word(m, alloc(m, 16));
        const odd = runs++ % 2 === 1;
        return {
          *thread(cpu) {
            yield* store32(m, cpu.id === 0 && odd ? w + 1 : w, 1, S);
            yield* load32(m, w, S);
          },
        };
      },
    });
    await expect(explore(flaky, { strategy: 'dpor' })).rejects.toThrow(
      /^model 'dpor-flaky': the model is not deterministic: replaying the same schedule, step \d+ \(CPU\d\) differs from the previous run/,
    );
  });

  it('a bounded search says so, and finds what dfs finds within the same bound', async () => {
    // two CPUs increment a counter twice with a plain load and store: updates get lost
    const counter = model('dpor-lost-update', 2, function* (m, w) {
      for (let i = 0; i < 2; i++) yield* store32(m, w, (yield* load32(m, w, S)) + 1, S);
    });
    for (const preemptionBound of [0, 1, 2]) {
      const dfs = await explore(counter, { strategy: 'dfs', preemptionBound, runs: 1e5, stopAtFirstFailure: false });
      for (const dpor of ['optimal', 'source'] as const) {
        const r = await explore(counter, { strategy: 'dpor', dpor, preemptionBound });
        expect(r.models[0].dpor).toMatchObject({ bound: preemptionBound, exhausted: true });
        expect(r.models[0].outcomes.map((o) => o.outcome).sort()).toEqual(dfs.models[0].outcomes.map((o) => o.outcome).sort());
      }
    }
  });
});

describe('shards of one search', () => {
  const adders = model('dpor-adders', 3, function* (m, w) {
    yield* add32(m, w, 1, S);
    yield* add32(m, w, 1, S);
  });
  it.each(['optimal', 'source'] as const)('%s: four shards, merged, make one search: the same complete count', async (dpor) => {
    const one = await explore(adders, { strategy: 'dpor', dpor });
    expect(one.models[0].dpor).toMatchObject({ complete: 90, exhausted: true, frontier: { depth: 0 } }); // 6!/(2!2!2!)
    const shards = await Promise.all([0, 1, 2, 3].map((k) => explore(adders, { strategy: 'dpor', dpor, shard: `${k}/4` })));
    expect(shards.every((s) => s.models[0].dpor?.exhausted)).toBe(true);
    expect(shards.map((s) => s.models[0].dpor?.frontier.items)).toEqual(
      new Array(4).fill(shards[0].models[0].dpor?.frontier.items),
    );
    expect(shards.filter((s) => (s.models[0].dpor?.complete ?? 0) > 0).length).toBeGreaterThan(1);
    const merged = mergeReports(shards);
    expect(merged.models[0].dpor).toMatchObject({ complete: 90, blocked: 0, exhausted: true });
    expect(merged.models[0].outcomes).toEqual([{ outcome: '6 0 0', count: 90, grade: 'acceptable' }]);
    // three shards of four are not the whole search
    expect(mergeReports(shards.slice(0, 3)).models[0].dpor?.exhausted).toBe(false);
  });

  it('a shard on two threads makes the same executions as on one (shards of jobs with different --workers merge)', async () => {
    const trial = trialOf(3, function* (m, w) {
      yield* add32(m, w, 1, S);
      yield* add32(m, w, 1, S);
    });
    const opts = { algorithm: 'optimal', preemptionBound: Infinity, shard: [1, 4] } as const;
    const alone = exploreDpor(trial, opts);
    const halves = [0, 1].map((i) => exploreDpor(trial, { ...opts, thread: [i, 2] }));
    expect(halves.map((h) => h.frontier)).toEqual([alone.frontier, alone.frontier]);
    expect(halves.every((h) => h.exhausted && h.complete > 0)).toBe(true);
    expect(halves[0].complete + halves[1].complete).toBe(alone.complete);
  });
});

describe('dpor is refused outside sc, in one line that says why', () => {
  const plain = model('dpor-plain', 2, function* (m, w, cpu) {
    yield* store32(m, w + cpu, 1, S);
  });
  it.each(['tso', 'arm', 'js'] as const)("%s, asked for or a model's own", async (mode) => {
    await expect(explore(plain, { strategy: 'dpor', memoryModel: mode })).rejects.toThrow(
      new RegExp(
        `^strategy dpor explores only the sc memory model, not ${mode}: its reduction assumes every store is seen by all CPUs at once \\(use random, pct or dfs under ${mode}\\)$`,
      ),
    );
    const own = model(
      `dpor-own-${mode}`,
      2,
      function* (m, w) {
        yield* store32(m, w, 1, S);
      },
      { memoryModel: mode },
    );
    await expect(explore(own, { strategy: 'dpor' })).rejects.toMatchObject({
      name: 'SlabError',
      code: 'EINVAL',
      message: expect.stringContaining(`not ${mode} (model 'dpor-own-${mode}' runs under ${mode} unless told otherwise)`),
    });
    // told otherwise: sc (two stores to one word: two traces)
    expect((await explore(own, { strategy: 'dpor', memoryModel: 'sc' })).models[0].dpor).toMatchObject({
      complete: 2,
      exhausted: true,
    });
  });
  it('sc, asked for or by default, is explored', () => {
    expect(dporMemoryModelRefusal([plain], undefined)).toBeNull();
    expect(dporMemoryModelRefusal([plain], 'sc')).toBeNull();
  });
});
