// Everything `slabsim race` can explore, by name.
import { SlabError } from '../errors.js';
import type { Model } from './model.js';
import { markBuiltIn } from './run.js';
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
].map(markBuiltIn);

export const modelByName = (name: string): Model | undefined => MODELS.find((m) => m.name === name);

/**
 * The models slabsim ships: the SLUB race scenarios (one per kernel path pair they set
 * against each other), the Treiber stack example and the HAProxy pool variants.
 */
export const builtInModels: readonly Model[] = MODELS;

/** A built-in model by name (see `slabsim list`); throws a SlabError naming the choices when unknown. */
export function builtInModel(name: string): Model {
  const m = modelByName(name);
  if (!m) throw new SlabError('EINVAL', `no built-in model '${name}' (expected one of ${MODELS.map((x) => x.name).join(', ')})`);
  return m;
}

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
  'relaxed-slab-free': 'concurrent-remote-frees',
  'relaxed-treiber-push': 'treiber-stack',
  'haproxy-put-no-barrier': 'haproxy-tagged',
  'barn-unlock-relaxed': 'shrink-vs-refill',
};

/** The models a mutant can break, its home scenario first. */
export const modelsForMutant = (mutant: string): Model[] =>
  MODELS.filter((m) => m.mutants?.includes(mutant)).sort(
    (a, b) => Number(b.name === HOME[mutant]) - Number(a.name === HOME[mutant]),
  );
