// Race machines are reused: restored from an image of their starting state before each
// run (only the pages handed out since are rewritten). A run on a reused machine must be
// the run on a fresh one, whatever ran on the machine before.
import { describe, expect, it } from 'vitest';
import { MODELS } from '../src/race/catalogue.js';
import { markBuiltIn, runRace } from '../src/race/run.js';
import { defineModel } from '../src/race/model.js';
import { alloc } from '../src/race/memory.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { create, restore, snapshot, trackPages } from '../src/shm/machine.js';
import { allocPages } from '../src/mm/page_alloc.fast.js';
import { cacheNames, kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { SLAB_FLAGS } from '../src/mm/slub/geometry.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { makeCpu, resetCpu } from '../src/mm/cpu.js';

describe('machine reuse', () => {
  it('every built-in model runs the same on a reused machine as on a fresh one, interleaved with the others', () => {
    const runs = MODELS.flatMap((model) =>
      (model.profiles ?? [null]).flatMap((profile) => [1, 2, 3].map((seed) => ({ model, profile, seed }))),
    );
    const fresh = runs.map((r) => runRace({ ...r, mutant: null }, new RandomStrategy(r.seed), { freshMachine: true }));
    // the same runs in another order, on reused machines (shared by models of one shape)
    const order = runs.map((_, i) => i).reverse();
    for (const i of order) {
      const r = runs[i];
      const again = runRace({ ...r, mutant: null }, new RandomStrategy(r.seed));
      expect({ model: r.model.name, outcome: again.outcome, steps: again.steps, choices: again.choices }).toEqual({
        model: r.model.name,
        outcome: fresh[i].outcome,
        steps: fresh[i].steps,
        choices: fresh[i].choices,
      });
    }
  });

  it('restore() brings back every word: the header and page tables whole, the pages handed out since tracking began', () => {
    const m = create({ cpus: 2, memory: 256 << 10 });
    trackPages(m);
    const before = allocPages(m, 0, 1, 0); // in use when the image is taken, written after
    const image = snapshot(m);
    const pfn = allocPages(m, 0, 2, 0);
    const page = (p: number) => m.memBase + ((p * m.cfg.pageSize) >> 2);
    m.u32.fill(0xdeadbeef, page(pfn), page(pfn + 4));
    m.u32.fill(0xfeedface, page(before), page(before + 2));
    restore(m, image);
    expect(m.u32).toEqual(image.words);
    expect(m.touched).toEqual(image.touched);
  });

  it("a restored machine has its image's cache views: kept, not rebuilt, and not those of a later cache of the same id", () => {
    const m = create({ cpus: 1, memory: 256 << 10, profile: '6.6' });
    trackPages(m);
    const a = kmemCacheCreate(m, 'a', 64);
    const view = cacheById(m, a);
    const image = snapshot(m);
    const b = kmemCacheCreate(m, 'b', 128);
    expect(cacheById(m, b).name).toBe('b');
    restore(m, image);
    expect(cacheById(m, a)).toBe(view);
    expect(kmemCacheCreate(m, 'c', 256)).toBe(b); // the id comes back with the image...
    expect(cacheById(m, b)).toMatchObject({ name: 'c', objectSize: 256 }); // ...and its old view is gone
    const other = snapshot(create({ cpus: 1, memory: 256 << 10, profile: '6.6' }));
    restore(m, { ...other, touched: null });
    expect(() => cacheById(m, a)).toThrow(/no cache with id/);
    restore(m, image);
    expect(cacheById(m, a)).toBe(view);
  });

  it('a model that sets SLUB up and takes memory in prepare() runs the same on its first run as on every later one', () => {
    // What prepare() leaves beside the buffer (the boot options, a merged cache's second
    // name, model memory's break) comes back with every restore, as the buffer does.
    const model = markBuiltIn(
      defineModel({
        name: 'prepared-side-state',
        cpus: 1,
        prepare(m) {
          slubInit(m, { debug: 'F' });
          kmemCacheCreate(m, 'first', 96);
          kmemCacheCreate(m, 'second', 96); // merged into 'first': an alias
          return alloc(m, 8);
        },
        create(m, _cpus, _profile, prepared) {
          const mine = alloc(m, 8);
          const id = kmemCacheCreate(m, 'made-in-create', 200);
          const names = cacheNames(m, kmemCacheCreate(m, 'third', 96));
          return {
            *thread() {},
            outcome: () =>
              `prepared ${prepared} then ${mine}; debug flags ${cacheById(m, id).flags & SLAB_FLAGS.consistency_checks}; names ${names}`,
          };
        },
      }),
    );
    const cfg = { model, profile: '6.6' as const, mutant: null, seed: 1 };
    const outcomes = [1, 2, 3].map(() => runRace(cfg, new RandomStrategy(1)).outcome);
    const fresh = runRace(cfg, new RandomStrategy(1), { freshMachine: true }).outcome;
    expect(outcomes).toEqual([fresh, fresh, fresh]);
    expect(fresh).toMatch(/debug flags [1-9]\d*; names kmalloc-96,first,second,third$/);
  });

  it('a reused CPU is the CPU makeCpu() makes: its random streams start over from the seed', () => {
    const m = create({ cpus: 2, memory: 256 << 10 });
    const draws = (c: ReturnType<typeof makeCpu>) => [c.rng.u32(), c.rng.u32(), c.irqRng.u32(), c.irqRng.float()];
    const used = makeCpu(m, 1, 5, 0.5);
    draws(used);
    used.irqDepth = 1;
    used.irq = () => 0;
    resetCpu(used, 9, 0.25);
    const made = makeCpu(m, 1, 9, 0.25);
    expect({ ...used, draws: draws(used) }).toEqual({ ...made, draws: draws(made) });
  });
});
