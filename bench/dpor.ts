// Executions to exhaust a model (issue 19, Deliver 8): `dpor` with no bound beside `dfs`
// within 2 preemptions, in the same run, for the Treiber stack and one SLUB scenario
// (concurrent-remote-frees, profile 6.6). dpor's count is the number of Mazurkiewicz
// traces; dfs's the number of schedules within the bound. A search that its time cap
// ends is reported as not exhausted, its count a lower bound.
import { explore, type ExploreOptions } from '../src/race/explore.js';
import { modelByName } from '../src/race/catalogue.js';
import type { Profile } from '../src/config.js';

export interface Exhaustion {
  model: string;
  profile: Profile | null;
  dpor: { executions: number; exhausted: boolean; ms: number };
  dfs_bound_2: { executions: number; exhausted: boolean; ms: number };
}

const options = (model: string, profile: Profile | null, strategy: 'dpor' | 'dfs', budgetMs: number): ExploreOptions => {
  const m = modelByName(model);
  if (!m) throw new Error(`no model ${model}`);
  return {
    models: [m],
    profiles: profile ? [profile] : [],
    mutant: null,
    strategy,
    depth: 3,
    preemptionBound: strategy === 'dpor' ? Infinity : 2,
    runs: 1e9,
    budgetMs,
    seed: 1,
    shard: [0, 1],
  };
};

function exhaust(model: string, profile: Profile | null, strategy: 'dpor' | 'dfs', budgetMs: number) {
  const t0 = performance.now();
  const r = explore(options(model, profile, strategy, budgetMs)).models[0];
  const executions = strategy === 'dpor' ? (r.dpor?.complete ?? 0) + (r.dpor?.blocked ?? 0) : r.runs;
  return { executions, exhausted: r.exhausted === true, ms: Math.round(performance.now() - t0) };
}

/** Each model under dpor (no bound) and dfs (bound 2), at most `budgetMs` each. */
export function dporExhaustion(budgetMs = 60_000): Exhaustion[] {
  const cases: Array<[string, Profile | null]> = [
    ['treiber-stack', null],
    ['concurrent-remote-frees', '6.6'],
  ];
  return cases.map(([model, profile]) => ({
    model,
    profile,
    dpor: exhaust(model, profile, 'dpor', budgetMs),
    dfs_bound_2: exhaust(model, profile, 'dfs', budgetMs),
  }));
}
