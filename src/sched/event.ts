// What a CPU is about to do, and what a step did: the one event record the explorer's
// layers share (the memory modes, partial-order reduction, traces).
//
// Before every yield, a primitive of src/shm/atomic.ts publishes its *pending access*
// (`schedBus.op`, `word`, `arg`, `arg2`): the scheduler copies it into the CPU's row of
// a `PendingAccesses` table, so that at every decision the next access of each CPU is
// known before it runs (its kind, its word, a CAS's expected value). After the access,
// the primitive reports the *event* it made (`schedBus.ev`, `old`): a read, or a write
// with the value it overwrote. A bare `yield SITE` (a schedule point of its own, no
// access) publishes nothing: its pending op is OP.NONE.
//
// Events and dependency (memory-models.md §7.1): loads, waitWhile, a failed CAS or
// trylock are reads; stores, xchg, add, a successful CAS or trylock, spinLock and
// spinUnlock are writes of their word (cas64: of both words of its pair). The ordered
// forms (loadAcquire32, cas32Relaxed, ...) publish the OP of their plain form; a load's
// arg says which load it is (LOAD), so a partial-order reduction sees one kind of load.

/** The kind of a pending access. */
export const OP = {
  /** no access (a bare schedule point, a finished CPU, a cpu_relax) */
  NONE: 0,
  /** arg = its LOAD kind */
  LOAD: 1,
  /** arg = its ORDER: RELAXED (store32), RELEASE (storeRelease32), FULL (atomicStore32) */
  STORE: 2,
  /** cmpxchg on one word: arg = expected value */
  CAS: 3,
  /** cmpxchg_double on the pair at `word` (even), `word + 1`: arg, arg2 = expected lo, hi */
  CAS2: 4,
  ADD: 5,
  XCHG: 6,
  /** spin_lock: enabled (sc) iff the word is 0 */
  LOCK: 7,
  TRYLOCK: 8,
  UNLOCK: 9,
  /** waitWhile: arg = the value it waits to see change */
  WAIT: 10,
  /**
   * fence (smp_mb, smp_wmb, smp_rmb): arg = its FENCE kind, word -1. Only the weaker memory
   * modes make a fence a step (under sc it has no effect and no schedule point).
   */
  FENCE: 11,
  /**
   * Never pending: the op of a flush step's event (a store of CPU `cpu`'s buffer reaching
   * memory; weaker memory modes only).
   */
  FLUSH: 12,
} as const;
export type Op = (typeof OP)[keyof typeof OP];

/**
 * The kind of a pending OP.LOAD, in its arg: what a weaker memory mode needs to know before
 * the load runs (which values it may read). Under sc all four are the same load.
 */
export const LOAD = {
  /** load32: READ_ONCE */
  PLAIN: 0,
  /** loadAcquire32: smp_load_acquire */
  ACQUIRE: 1,
  /** loadDep32: a load whose address depends on the CPU's previous load */
  DEP: 2,
  /** atomicLoad32: Atomics.load (sequentially consistent) */
  SC: 3,
} as const;

/** The kind of a fence, in the arg of OP.FENCE. */
export const FENCE = {
  /** smp_mb: DMB ISH, MFENCE */
  MB: 0,
  /** smp_wmb: DMB ISHST (a compiler barrier on x86) */
  WMB: 1,
  /** smp_rmb: DMB ISHLD (a compiler barrier on x86) */
  RMB: 2,
} as const;

/** The ordering of a store (published in a pending OP.STORE's arg) or of a read-modify-write (not published). */
export const ORDER = {
  /** value-returning RMWs: fully ordered (an smp_mb() before and after) */
  FULL: 0,
  /** `_relaxed`, and RMWs without a return value: unordered */
  RELAXED: 1,
  /** `_acquire` */
  ACQUIRE: 2,
  /** `_release` */
  RELEASE: 3,
} as const;

/** What a step did to memory, as reported by the primitive after its access. */
export const EV = {
  NONE: 0,
  READ: 1,
  WRITE: 2,
} as const;

/** Per-CPU pending accesses of one run (plain typed arrays; rewritten as CPUs move). */
export class PendingAccesses {
  readonly op: Uint8Array;
  readonly word: Int32Array;
  readonly arg: Int32Array;
  readonly arg2: Int32Array;
  constructor(n: number) {
    this.op = new Uint8Array(n);
    this.word = new Int32Array(n).fill(-1);
    this.arg = new Int32Array(n);
    this.arg2 = new Int32Array(n);
  }
  /** Nothing pending, on every CPU: a run starts as the first one did (no value of the last run's left). */
  reset(): void {
    this.op.fill(OP.NONE);
    this.word.fill(-1);
    this.arg.fill(0);
    this.arg2.fill(0);
  }
}

/** The words an access of `op` at `word` touches: a pair for CAS2, else one. */
export const accessWords = (op: number, word: number): number[] => (op === OP.CAS2 ? [word, word + 1] : word >= 0 ? [word] : []);
