// Deliberately broken variants of the real SLUB code ("mutants"), each a named switch
// that the code it breaks tests in place. They exist so that the explorer can show
// what each piece of the protocol is for: every one must be found by `slabsim race`.
// Off in every normal run; a run turns at most one on through setMutant().

export const MUTANTS = {
  'no-tid': 'the allocation fast path ignores the tid: its CAS compares the tid current at the CAS, not the one read first',
  'split-slab-cas': "a slab's freelist and counters are updated by two separate 32-bit CASes instead of one cmpxchg_double",
  'unlocked-partial': 'node partial lists are changed without taking n->list_lock',
  'ignore-frozen': '__slab_free ignores the frozen bit: a free into a cpu slab or cpu-partial slab does list work',
  'plain-unfreeze': 'unfreeze_partials clears frozen with a plain store instead of a CAS',
  'untagged-stack': 'the Treiber stack of the worked example pops with a CAS on the head pointer alone (ABA)',
  'unlocked-barn': "a node's barn lists and counts are changed without taking barn->lock",
  'sheaf-no-trylock':
    "the sheaf paths take cpu_sheaves->lock without looking: an interrupt's alloc or free gets into the locked sheaf",
} as const;

export type MutantName = keyof typeof MUTANTS;
export const MUTANT_NAMES = Object.keys(MUTANTS) as MutantName[];

/** The switches, read on the paths they break (one property load when off). */
export const mutant = {
  noTid: false,
  splitSlabCas: false,
  unlockedPartial: false,
  ignoreFrozen: false,
  plainUnfreeze: false,
  untaggedStack: false,
  unlockedBarn: false,
  sheafNoTrylock: false,
};

const FIELD: Record<MutantName, keyof typeof mutant> = {
  'no-tid': 'noTid',
  'split-slab-cas': 'splitSlabCas',
  'unlocked-partial': 'unlockedPartial',
  'ignore-frozen': 'ignoreFrozen',
  'plain-unfreeze': 'plainUnfreeze',
  'untagged-stack': 'untaggedStack',
  'unlocked-barn': 'unlockedBarn',
  'sheaf-no-trylock': 'sheafNoTrylock',
};

let on: keyof typeof mutant | null = null;

/** The mutant that is on, or null. */
export const mutantOn = (): MutantName | null =>
  on === null ? null : ((Object.keys(FIELD) as MutantName[]).find((k) => FIELD[k] === on) ?? null);

/** Turn one mutant on (or all off with null). Per thread: workers have their own switches. */
export function setMutant(name: MutantName | null): void {
  if (on !== null) mutant[on] = false;
  on = name === null ? null : FIELD[name];
  if (on !== null) mutant[on] = true;
}
