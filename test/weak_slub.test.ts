// SLUB, the pools and the Treiber stack under the weaker memory modes: the correct code
// is clean under arm and tso (with the debug check of plain accesses on, as every weak
// run under vitest has it), and each ordering mutant is found under arm, shrunk to a v2
// schedule that replays, and not found under sc in the same budget.
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { MUTANT_MODES, MUTANT_NAMES, type MutantName } from '../src/mm/slub/mutants.js';
import { MODELS, modelByName, modelsForMutant } from '../src/race/catalogue.js';
import { explore, type ExploreOptions } from '../src/race/explore.js';
import { parseScheduleString } from '../src/race/run.js';
import { replay } from '../src/race/api.js';
import type { MemoryModel } from '../src/sched/memory_model.js';

const options = (o: Partial<ExploreOptions> & Pick<ExploreOptions, 'models'>): ExploreOptions => ({
  profiles: ['5.4', '6.6', '6.18', '7.0'],
  mutant: null,
  strategy: 'random',
  depth: 3,
  preemptionBound: 2,
  runs: 20,
  budgetMs: 0,
  seed: 1,
  shard: [0, 1],
  stopAtFirstFailure: false,
  ...o,
});

describe('the correct code under the weaker modes', () => {
  it.each(['arm', 'tso'] as MemoryModel[])('every built-in model but the broken ones is clean under %s', (mode) => {
    const models = MODELS.filter((m) => !m.broken);
    const r = explore(options({ models, memoryModel: mode, runs: 25 }));
    expect(r.models.length).toBe(models.reduce((n, m) => n + (m.profiles?.length ?? 1), 0));
    for (const m of r.models) expect(m.failure?.messages, `${m.model} ${m.profile ?? ''}`).toBeUndefined();
    expect(r.failures).toBe(0);
  });
});

/** Each ordering mutant, the model and profile a test hunts it on, and the runs that suffice there. */
const HUNTS: Record<string, { model: string; profile: Profile | null; runs: number }> = {
  'relaxed-slab-free': { model: 'concurrent-remote-frees', profile: '6.6', runs: 120 },
  'relaxed-treiber-push': { model: 'treiber-stack', profile: null, runs: 40 },
  'haproxy-put-no-barrier': { model: 'haproxy-tagged', profile: null, runs: 40 },
  'barn-unlock-relaxed': { model: 'shrink-vs-refill', profile: '7.0', runs: 60 },
};

describe('ordering mutants', () => {
  const weak = MUTANT_NAMES.filter((m) => MUTANT_MODES[m] !== 'sc');

  it('at least four, each hunted here and listed on the models it breaks', () => {
    expect(weak.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(HUNTS).sort()).toEqual([...weak].sort());
    for (const m of weak) expect(modelsForMutant(m)[0]?.name).toBe(HUNTS[m].model);
  });

  it.each(weak.map((m) => [m]))('%s: found under arm, shrunk to a v2 schedule that replays; not under sc', (name) => {
    const mutant = name as MutantName;
    const hunt = HUNTS[mutant];
    const model = modelByName(hunt.model);
    if (!model) throw new Error(`no model ${hunt.model}`);
    const profiles = hunt.profile ? [hunt.profile] : [];
    const under = (mode: MemoryModel) =>
      explore(options({ models: [model], profiles, mutant, memoryModel: mode, runs: hunt.runs, stopAtFirstFailure: true }))
        .models[0];

    const arm = under('arm');
    expect(arm.failure, `${mutant} under arm in ${hunt.runs} runs`).toBeDefined();
    const failure = arm.failure!;
    expect(failure.shrunk).toMatch(/^v2:/);
    const parsed = parseScheduleString(failure.shrunk);
    expect(parsed).toMatchObject({ modelName: hunt.model, mutant, memoryModel: 'arm' });
    expect(failure.preemptions.after).toBeLessThanOrEqual(failure.preemptions.before);
    const again = replay(MODELS, failure.shrunk);
    expect(again.failed).toBe(true);
    expect(again.memoryModel).toBe('arm');
    // the same failure, bit for bit, every time
    expect(replay(MODELS, failure.shrunk).messages).toEqual(again.messages);

    const sc = under('sc');
    expect(sc.failure, `${mutant} under sc`).toBeUndefined();
    expect(sc.runs).toBe(hunt.runs);
  });
});
