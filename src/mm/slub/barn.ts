/* @two-way */
// struct node_barn: per node, full and empty sheaves any CPU of the node may take, two
// LIFO lists (the kernel's list_add()/list_first_entry() at the head) with their counts
// under barn->lock. slub.c: barn_get_empty_sheaf(), barn_put_empty_sheaf(),
// barn_put_full_sheaf(), barn_get_full_or_empty_sheaf(), barn_replace_empty_sheaf(),
// barn_replace_full_sheaf(), barn_shrink(), get_barn().
// The counts are read without the lock first ("determine barn status racily outside of
// lock", data_race()): a barn at its limit is turned away without contending, and the
// limits are therefore soft. Lock order: cpu_sheaves->lock -> barn->lock -> list_lock.
import { type Step, site } from '../../sched/step.js';
import { load32, spinLock, spinUnlock, store32 } from '../../shm/atomic.js';
import { addrWord } from '../../shm/machine.js';
import { CACHE_NODE, SHEAF } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import type { KmemCache } from './kmem_cache.js';
import { lockCounts } from './lock_counts.js';
import { mutant } from './mutants.js';
import { freeEmptySheaf, sheafFlushUnused } from './sheaf.js';

const S_BARN = site('barn');
const S_BARN_LOCK = site('barn:lock');

/** MAX_FULL_SHEAVES, MAX_EMPTY_SHEAVES. */
export const MAX_FULL_SHEAVES = 10;
export const MAX_EMPTY_SHEAVES = 10;
/** barn_replace_full_sheaf()'s ERR_PTR(-E2BIG): too many full sheaves already. */
export const E2BIG = -1;
/** ... and ERR_PTR(-ENOMEM): no empty sheaf to trade. */
export const ENOMEM = -2;

/** get_barn(s): the barn of this CPU's node (numa_mem_id()). */
export const getBarn = (s: KmemCache, cpu: Cpu): number => s.node0 + cpu.node * CACHE_NODE.STRIDE;

/** spin_lock_irqsave(&barn->lock). (Mutant unlocked-barn: not taken.) */
function* barnLock(s: KmemCache, n: number): Step {
  lockCounts.barnLock++;
  if (mutant.unlockedBarn) return;
  yield* spinLock(s.m, n + CACHE_NODE.barnLock, S_BARN_LOCK);
}

/**
 * spin_unlock_irqrestore(&barn->lock): a release, so everything written under the lock
 * (barn_shrink()'s emptied lists and counts) and before it (the size of a sheaf put on a
 * list) reaches memory before another CPU can take the lock. (Mutant barn-unlock-relaxed:
 * a plain WRITE_ONCE(lock, 0), which orders nothing before it.)
 */
function* barnUnlock(s: KmemCache, n: number): Step {
  if (mutant.unlockedBarn) return;
  if (mutant.barnUnlockRelaxed) yield* store32(s.m, n + CACHE_NODE.barnLock, 0, S_BARN_LOCK);
  else yield* spinUnlock(s.m, n + CACHE_NODE.barnLock, S_BARN_LOCK);
}

/**
 * The lists and counts, under barn->lock. A schedule point between each one's reads
 * and writes lets a CPU that does not hold the lock (a broken variant) be caught there.
 */
function* pop(s: KmemCache, n: number, list: number, count: number): Step<number> {
  const m = s.m;
  const sheaf = m.u32[n + list];
  const nr = m.u32[n + count];
  yield S_BARN;
  m.u32[n + list] = m.u32[addrWord(m, sheaf) + SHEAF.barnNext];
  m.u32[n + count] = nr - 1;
  return sheaf;
}

function* push(s: KmemCache, n: number, list: number, count: number, sheaf: number): Step {
  const m = s.m;
  const first = m.u32[n + list];
  const nr = m.u32[n + count];
  yield S_BARN;
  m.u32[addrWord(m, sheaf) + SHEAF.barnNext] = first;
  m.u32[n + list] = sheaf;
  m.u32[n + count] = nr + 1;
}

const FULL = CACHE_NODE.fullSheaves;
const EMPTY = CACHE_NODE.emptySheaves;
const NR_FULL = CACHE_NODE.nrFull;
const NR_EMPTY = CACHE_NODE.nrEmpty;

/** data_race(barn->nr_full) / nr_empty. */
function* racy(s: KmemCache, n: number, count: number): Step<number> {
  return yield* load32(s.m, n + count, S_BARN);
}

/** barn_get_empty_sheaf(): an empty sheaf, or 0. */
export function* barnGetEmptySheaf(s: KmemCache, n: number): Step<number> {
  if ((yield* racy(s, n, NR_EMPTY)) === 0) return 0;
  yield* barnLock(s, n);
  let empty = 0;
  if (s.m.u32[n + NR_EMPTY] !== 0) empty = yield* pop(s, n, EMPTY, NR_EMPTY);
  yield* barnUnlock(s, n);
  return empty;
}

/**
 * barn_put_empty_sheaf(), barn_put_full_sheaf(): used to undo an intended action after
 * a race or a migration, so they ignore the limits.
 */
export function* barnPutEmptySheaf(s: KmemCache, n: number, sheaf: number): Step {
  yield* barnLock(s, n);
  yield* push(s, n, EMPTY, NR_EMPTY, sheaf);
  yield* barnUnlock(s, n);
}

export function* barnPutFullSheaf(s: KmemCache, n: number, sheaf: number): Step {
  yield* barnLock(s, n);
  yield* push(s, n, FULL, NR_FULL, sheaf);
  yield* barnUnlock(s, n);
}

/** barn_get_full_or_empty_sheaf(): a full sheaf if there is one, else an empty one, else 0. */
export function* barnGetFullOrEmptySheaf(s: KmemCache, n: number): Step<number> {
  if ((yield* racy(s, n, NR_FULL)) === 0 && (yield* racy(s, n, NR_EMPTY)) === 0) return 0;
  yield* barnLock(s, n);
  let sheaf = 0;
  if (s.m.u32[n + NR_FULL] !== 0) sheaf = yield* pop(s, n, FULL, NR_FULL);
  else if (s.m.u32[n + NR_EMPTY] !== 0) sheaf = yield* pop(s, n, EMPTY, NR_EMPTY);
  yield* barnUnlock(s, n);
  return sheaf;
}

/**
 * barn_replace_empty_sheaf(): a full sheaf for the supplied empty one, or 0. The limit
 * on empty sheaves is ignored: the number of sheaves does not change.
 */
export function* barnReplaceEmptySheaf(s: KmemCache, n: number, empty: number): Step<number> {
  if ((yield* racy(s, n, NR_FULL)) === 0) return 0;
  yield* barnLock(s, n);
  let full = 0;
  if (s.m.u32[n + NR_FULL] !== 0) {
    full = yield* pop(s, n, FULL, NR_FULL);
    yield* push(s, n, EMPTY, NR_EMPTY, empty);
  }
  yield* barnUnlock(s, n);
  return full;
}

/**
 * barn_replace_full_sheaf(): an empty sheaf for the supplied full one; E2BIG when the
 * barn already holds MAX_FULL_SHEAVES full ones (not re-checked under the lock: "not
 * critical"), ENOMEM when it has no empty one.
 */
export function* barnReplaceFullSheaf(s: KmemCache, n: number, full: number): Step<number> {
  if ((yield* racy(s, n, NR_FULL)) >= MAX_FULL_SHEAVES) return E2BIG;
  if ((yield* racy(s, n, NR_EMPTY)) === 0) return ENOMEM;
  yield* barnLock(s, n);
  let empty = ENOMEM;
  if (s.m.u32[n + NR_EMPTY] !== 0) {
    empty = yield* pop(s, n, EMPTY, NR_EMPTY);
    yield* push(s, n, FULL, NR_FULL, full);
  }
  yield* barnUnlock(s, n);
  return empty;
}

/**
 * barn_shrink(): take both lists whole under the lock, then flush every full sheaf to
 * the slabs and free all of them.
 */
export function* barnShrink(s: KmemCache, cpu: Cpu, n: number): Step {
  const m = s.m;
  yield* barnLock(s, n);
  const full = yield* load32(m, n + FULL, S_BARN);
  const empty = yield* load32(m, n + EMPTY, S_BARN);
  yield* store32(m, n + FULL, 0, S_BARN);
  yield* store32(m, n + NR_FULL, 0, S_BARN);
  yield* store32(m, n + EMPTY, 0, S_BARN);
  yield* store32(m, n + NR_EMPTY, 0, S_BARN);
  yield* barnUnlock(s, n);
  for (let sheaf = full; sheaf !== 0;) {
    const next = m.u32[addrWord(m, sheaf) + SHEAF.barnNext];
    yield* sheafFlushUnused(s, cpu, sheaf);
    yield* freeEmptySheaf(s, cpu, sheaf);
    sheaf = next;
  }
  for (let sheaf = empty; sheaf !== 0;) {
    const next = m.u32[addrWord(m, sheaf) + SHEAF.barnNext];
    yield* freeEmptySheaf(s, cpu, sheaf);
    sheaf = next;
  }
}
