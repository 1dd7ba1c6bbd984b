// The C litmus test as parsed (src/litmus/parse.ts): the format of the Linux kernel's
// tools/memory-model/litmus-tests and herdtools7's catalogue/linux, restricted to the
// subset the memory modes can run (docs/litmus.md).

/** Where a construct starts in its file (1-based). */
export interface At {
  line: number;
  col: number;
}

/** How strongly an access or RMW is ordered (LKMM's annotations, linux-kernel.def). */
export type Order = 'once' | 'acquire' | 'release' | 'mb';

/** What a kernel primitive does, once its arguments are evaluated (src/litmus/prims.ts). */
export type PrimOp =
  | { op: 'load'; order: 'once' | 'acquire' }
  | { op: 'store'; order: 'once' | 'release'; mbAfter?: true }
  | { op: 'fence'; kind: 'mb' | 'wmb' | 'rmb' | 'compiler' }
  | { op: 'xchg'; order: Order }
  | { op: 'cmpxchg'; order: Order }
  /** atomic_add() and friends: `sign` scales the operand; returns nothing, the new or the old value, or a test of the new one */
  | { op: 'add'; order: Order; sign: 1 | -1; ret: 'none' | 'new' | 'old' | 'zero' | 'negative' }
  | { op: 'lock' }
  | { op: 'unlock' }
  | { op: 'trylock' };

export type Expr =
  | { k: 'num'; v: number; at: At }
  | { k: 'reg'; name: string; at: At }
  /** a plain C access `*x` to shared location x */
  | { k: 'deref'; loc: string; at: At }
  | { k: 'call'; name: string; prim: PrimOp; loc: string; args: Expr[]; at: At }
  | { k: 'un'; op: '-' | '!' | '~' | '+'; e: Expr; at: At }
  | { k: 'bin'; op: string; a: Expr; b: Expr; at: At }
  | { k: 'cond'; c: Expr; a: Expr; b: Expr; at: At };

export type Stmt =
  | { k: 'decl'; name: string; init?: Expr; at: At }
  | { k: 'assign'; name: string; e: Expr; at: At }
  /** a plain C store `*x = e` */
  | { k: 'store'; loc: string; e: Expr; at: At }
  | { k: 'expr'; e: Expr; at: At }
  | { k: 'if'; c: Expr; then: Stmt[]; else: Stmt[]; at: At }
  | { k: 'while'; c: Expr; body: Stmt[]; at: At };

/** One `Pn(...) { ... }` function: a CPU's program. */
export interface Thread {
  /** n of Pn */
  id: number;
  /** the shared locations it names (its pointer parameters) */
  params: string[];
  body: Stmt[];
  /** its local variables (registers), in the order declared */
  regs: string[];
  at: At;
}

/** A register `N:r` or a shared location in a condition or the `locations` list. */
export type Rloc = { k: 'reg'; thread: number; name: string; at: At } | { k: 'loc'; name: string; at: At };

export type Prop =
  | { k: 'atom'; rloc: Rloc; value: number; at: At }
  | { k: 'true' }
  | { k: 'false' }
  | { k: 'not'; p: Prop }
  | { k: 'and'; ps: Prop[] }
  | { k: 'or'; ps: Prop[] }
  | { k: 'implies'; a: Prop; b: Prop };

/** `exists` (herd: Allowed), `~exists` (Forbidden), `forall` (Required). */
export type Quantifier = 'exists' | '~exists' | 'forall';

export interface LitmusTest {
  /** the name after `C` */
  name: string;
  /** the file it came from, for messages */
  file: string;
  /** every shared location, in the order first named; values from the init block (default 0) */
  locations: { name: string; init: number; lock: boolean }[];
  /** register initial values from the init block (`0:r1=2;`), by `N:r` */
  regInit: Map<string, number>;
  threads: Thread[];
  /** the `locations [...]` list: shown in every state beside what the condition names */
  show: Rloc[];
  /** `filter (...)`: executions where it is false are left out */
  filter?: Prop;
  quantifier: Quantifier;
  cond: Prop;
}
