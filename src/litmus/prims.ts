// The kernel primitives a litmus test may call, as the LKMM defines them
// (tools/memory-model/linux-kernel.def): each name, the shape of its arguments, and what
// it does. Anything else a P function calls is outside the subset slabsim runs.
import type { Order, PrimOp } from './ast.js';

/**
 * An argument: `deref` is a shared location written `*x` (READ_ONCE, WRITE_ONCE), `loc`
 * the location's pointer `x` (smp_load_acquire, xchg, atomic_*), `val` any expression.
 */
export type ArgKind = 'deref' | 'loc' | 'val';

export interface PrimSpec {
  args: readonly ArgKind[];
  prim: PrimOp;
  /** it returns a value (else it is a statement only) */
  value: boolean;
}

const table = new Map<string, PrimSpec>();
const def = (name: string, args: readonly ArgKind[], prim: PrimOp, value: boolean): void => {
  table.set(name, { args, prim, value });
};

def('READ_ONCE', ['deref'], { op: 'load', order: 'once' }, true);
def('WRITE_ONCE', ['deref', 'val'], { op: 'store', order: 'once' }, false);
def('smp_load_acquire', ['loc'], { op: 'load', order: 'acquire' }, true);
def('smp_store_release', ['loc', 'val'], { op: 'store', order: 'release' }, false);
def('smp_store_mb', ['deref', 'val'], { op: 'store', order: 'once', mbAfter: true }, false);
def('atomic_read', ['loc'], { op: 'load', order: 'once' }, true);
def('atomic_set', ['loc', 'val'], { op: 'store', order: 'once' }, false);
def('atomic_read_acquire', ['loc'], { op: 'load', order: 'acquire' }, true);
def('atomic_set_release', ['loc', 'val'], { op: 'store', order: 'release' }, false);

def('smp_mb', [], { op: 'fence', kind: 'mb' }, false);
def('smp_rmb', [], { op: 'fence', kind: 'rmb' }, false);
def('smp_wmb', [], { op: 'fence', kind: 'wmb' }, false);
// On arm64 all four are smp_mb() (arch/arm64/include/asm/barrier.h, atomic.h, spinlock.h):
// a full barrier, at least as strong as the LKMM's narrower fences.
for (const name of ['smp_mb__before_atomic', 'smp_mb__after_atomic', 'smp_mb__after_spinlock', 'smp_mb__after_unlock_lock'])
  def(name, [], { op: 'fence', kind: 'mb' }, false);
def('barrier', [], { op: 'fence', kind: 'compiler' }, false);

def('spin_lock', ['loc'], { op: 'lock' }, false);
def('spin_unlock', ['loc'], { op: 'unlock' }, false);
def('spin_trylock', ['loc'], { op: 'trylock' }, true);

/** `` (fully ordered), `_relaxed`, `_acquire`, `_release`: the kernel's four orderings of an RMW. */
const ORDERS: ReadonlyArray<[string, Order]> = [
  ['', 'mb'],
  ['_relaxed', 'once'],
  ['_acquire', 'acquire'],
  ['_release', 'release'],
];
for (const [suffix, order] of ORDERS) {
  for (const prefix of ['', 'atomic_']) {
    def(`${prefix}xchg${suffix}`, ['loc', 'val'], { op: 'xchg', order }, true);
    def(`${prefix}cmpxchg${suffix}`, ['loc', 'val', 'val'], { op: 'cmpxchg', order }, true);
  }
  for (const [verb, sign] of [
    ['add', 1],
    ['sub', -1],
  ] as const) {
    def(`atomic_${verb}_return${suffix}`, ['val', 'loc'], { op: 'add', order, sign, ret: 'new' }, true);
    def(`atomic_fetch_${verb}${suffix}`, ['val', 'loc'], { op: 'add', order, sign, ret: 'old' }, true);
  }
  for (const [verb, sign] of [
    ['inc', 1],
    ['dec', -1],
  ] as const) {
    def(`atomic_${verb}_return${suffix}`, ['loc'], { op: 'add', order, sign, ret: 'new' }, true);
    def(`atomic_fetch_${verb}${suffix}`, ['loc'], { op: 'add', order, sign, ret: 'old' }, true);
  }
}
// Non-value-returning atomics are unordered (Documentation/atomic_t.txt).
def('atomic_add', ['val', 'loc'], { op: 'add', order: 'once', sign: 1, ret: 'none' }, false);
def('atomic_sub', ['val', 'loc'], { op: 'add', order: 'once', sign: -1, ret: 'none' }, false);
def('atomic_inc', ['loc'], { op: 'add', order: 'once', sign: 1, ret: 'none' }, false);
def('atomic_dec', ['loc'], { op: 'add', order: 'once', sign: -1, ret: 'none' }, false);
def('atomic_sub_and_test', ['val', 'loc'], { op: 'add', order: 'mb', sign: -1, ret: 'zero' }, true);
def('atomic_dec_and_test', ['loc'], { op: 'add', order: 'mb', sign: -1, ret: 'zero' }, true);
def('atomic_inc_and_test', ['loc'], { op: 'add', order: 'mb', sign: 1, ret: 'zero' }, true);
def('atomic_add_negative', ['val', 'loc'], { op: 'add', order: 'mb', sign: 1, ret: 'negative' }, true);

/** The primitive called `name`, or undefined when it is not in the subset. */
export const primSpec = (name: string): PrimSpec | undefined => table.get(name);

/** Every primitive name of the subset, for docs and messages. */
export const PRIM_NAMES: readonly string[] = [...table.keys()];

/** Why a known kernel construct is left out: named in the one-line refusal. */
export function outsideSubset(name: string): string {
  if (/^(rcu_|synchronize_rcu)/.test(name)) return 'RCU';
  if (/^(srcu_|synchronize_srcu)/.test(name)) return 'SRCU';
  if (name === 'spin_is_locked') return 'lock state queries';
  if (/^smp_cond_load/.test(name)) return 'conditional waits';
  return 'not a primitive of the subset';
}
