// Everything `slabsim race` can explore, by name.
import type { Model } from './model.js';
import { HAPROXY_MODELS } from './models/haproxy.js';
import { treiberModel } from './models/treiber.js';
import { SCENARIOS } from './scenarios.js';
import { SHEAF_SCENARIOS } from './sheaf_scenarios.js';
import { slubModel } from './slub_model.js';

export const MODELS: readonly Model[] = [
  ...SCENARIOS.map(slubModel),
  ...SHEAF_SCENARIOS.map(slubModel),
  treiberModel,
  ...HAPROXY_MODELS,
];

export const modelByName = (name: string): Model | undefined => MODELS.find((m) => m.name === name);

/** The scenario written to expose each mutant: a hunt starts there. */
const HOME: Record<string, string> = {
  'no-tid': 'irq-between-tid-and-cas',
  'split-slab-cas': 'concurrent-remote-frees',
  'unlocked-partial': 'last-objects-near-min-partial',
  'ignore-frozen': 'remote-free-into-full-cpu-slab',
  'plain-unfreeze': 'drain-vs-remote-free',
  'untagged-stack': 'treiber-stack',
  'unlocked-barn': 'barn-exchange-vs-flush',
  'sheaf-no-trylock': 'irq-under-sheaf-lock',
};

/** The models a mutant can break, its home scenario first. */
export const modelsForMutant = (mutant: string): Model[] =>
  MODELS.filter((m) => m.mutants?.includes(mutant)).sort(
    (a, b) => Number(b.name === HOME[mutant]) - Number(a.name === HOME[mutant]),
  );
