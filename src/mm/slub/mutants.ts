// Deliberately broken variants of the real SLUB code ("mutants"), each a named switch
// that the code it breaks tests in place. They exist so that the explorer can show
// what each piece of the protocol is for: every one must be found by `slabsim race`,
// in the memory mode MUTANT_MODES names (the ordering mutants only under a weaker one:
// sequential consistency hides a missing barrier).
// Off in every normal run; a run turns at most one on through setMutant().
import type { MemoryModel } from '../../sched/memory_model.js';

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
  'relaxed-slab-free':
    "__slab_free publishes the freed objects with a relaxed cmpxchg_double: the free pointer written just before may reach memory after them, and the CPU that takes the slab's freelist follows a stale one",
  'relaxed-treiber-push':
    "the Treiber stack's push uses a relaxed CAS: the new node's next may reach memory after the node is on top, and a pop installs a stale next",
  'haproxy-put-no-barrier':
    "HAProxy's pool put (__pool_free) without __ha_barrier_store(): the block's link may reach memory after the block heads the free list, and a get installs a stale link",
  'barn-unlock-relaxed':
    "barn->lock is released by a plain store instead of spin_unlock's release: what the holder wrote under the lock (barn_shrink's emptied lists and counts, a sheaf's size) may reach memory after the next holder took the lock",
} as const;

export type MutantName = keyof typeof MUTANTS;
export const MUTANT_NAMES = Object.keys(MUTANTS) as MutantName[];

/**
 * The memory mode in which each mutant is found: `sc` for the races of the protocol
 * itself, `arm` for a dropped ordering (invisible under sc and, since every RMW is
 * LOCK'd there, under tso).
 */
export const MUTANT_MODES: Record<MutantName, MemoryModel> = {
  'no-tid': 'sc',
  'split-slab-cas': 'sc',
  'unlocked-partial': 'sc',
  'ignore-frozen': 'sc',
  'plain-unfreeze': 'sc',
  'untagged-stack': 'sc',
  'unlocked-barn': 'sc',
  'sheaf-no-trylock': 'sc',
  'relaxed-slab-free': 'arm',
  'relaxed-treiber-push': 'arm',
  'haproxy-put-no-barrier': 'arm',
  'barn-unlock-relaxed': 'arm',
};

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
  relaxedSlabFree: false,
  relaxedTreiberPush: false,
  haproxyPutNoBarrier: false,
  barnUnlockRelaxed: false,
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
  'relaxed-slab-free': 'relaxedSlabFree',
  'relaxed-treiber-push': 'relaxedTreiberPush',
  'haproxy-put-no-barrier': 'haproxyPutNoBarrier',
  'barn-unlock-relaxed': 'barnUnlockRelaxed',
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
