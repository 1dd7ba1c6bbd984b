// Everything `slabsim race` can explore, by name.
import type { Model } from './model.js';
import { treiberModel } from './models/treiber.js';
import { SCENARIOS } from './scenarios.js';
import { slubModel } from './slub_model.js';

export const MODELS: readonly Model[] = [...SCENARIOS.map(slubModel), treiberModel];

export const modelByName = (name: string): Model | undefined => MODELS.find((m) => m.name === name);

/** The models a mutant can break. */
export const modelsForMutant = (mutant: string): Model[] => MODELS.filter((m) => m.mutants?.includes(mutant));
