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
// spinUnlock are writes of their word (cas64: of both words of its pair).

/** The kind of a pending access. */
export const OP = {
  /** no access (a bare schedule point, a finished CPU, a cpu_relax) */
  NONE: 0,
  LOAD: 1,
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
} as const;
export type Op = (typeof OP)[keyof typeof OP];

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
  reset(): void {
    this.op.fill(OP.NONE);
    this.word.fill(-1);
  }
}

/** The words an access of `op` at `word` touches: a pair for CAS2, else one. */
export const accessWords = (op: number, word: number): number[] => (op === OP.CAS2 ? [word, word + 1] : word >= 0 ? [word] : []);
