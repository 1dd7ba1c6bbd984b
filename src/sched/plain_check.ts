// The debug check of the weaker memory modes (docs/architecture.md, "Memory modes"): two-way
// code also reads and writes shared words plainly (`m.u32[w]`) between schedule points,
// which bypasses the store buffers, so a CPU that buffered a store to a word and then
// reads it plainly misses its own store (and a plain write is overwritten when the older
// buffered store is flushed). No machine does that: such an access is a bug of the code
// under weak memory. For the length of a run, a proxy in place of `m.u32` looks at every
// plain access a CPU makes during its steps.
import { InvariantError } from '../errors.js';
import type { Machine } from '../shm/machine.js';
import { thisCpu } from './this_cpu.js';

/** How runs check for plain accesses to a word pending in the CPU's own store buffer. */
export type PlainAccessCheck = 'off' | 'throw' | 'collect';

/** A plain access of a word pending in the accessing CPU's own store buffer. */
export interface PlainAccess {
  cpu: number;
  word: number;
  kind: 'read' | 'write';
  /** the source line that made it (the first stack frame outside the check) */
  where: string;
}

/** What the check asks of a run's store buffers. */
export interface PendingStores {
  readonly n: number;
  readonly mode: string;
  /** CPU c's buffer holds a store to `word` */
  pending(c: number, word: number): boolean;
  /** CPU c's buffer holds a store */
  anyPending(c: number): boolean;
}

const envOf = (): Record<string, string | undefined> =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

function fromEnv(): PlainAccessCheck {
  const env = envOf();
  const v = env.SLABSIM_PLAIN_ACCESS_CHECK;
  if (v === 'off' || v === 'throw' || v === 'collect') return v;
  return env.VITEST ? 'throw' : 'off';
}

let check: PlainAccessCheck = fromEnv();
/** Plain accesses found while the check is 'collect' (the caller empties it). */
export const plainAccesses: PlainAccess[] = [];

/**
 * The debug check of weak-mode runs (default: `throw` under vitest, else `off`; the
 * environment's SLABSIM_PLAIN_ACCESS_CHECK=off|throw|collect overrides it): a CPU that
 * reads or writes with plain `m.u32[w]` a word its own store buffer holds a store to
 * would miss its own store, which no machine does. `throw` fails the run with an
 * InvariantError, `collect` records each access in plainAccesses. Returns the previous
 * setting.
 */
export function setPlainAccessCheck(mode: PlainAccessCheck): PlainAccessCheck {
  const was = check;
  check = mode;
  return was;
}

const noop = (): void => {};
const proxies = new WeakMap<Machine, Uint32Array>();

/** Put the check's proxy in place of `m.u32` for one run (a no-op when the check is off); returns its undo. */
export function watchPlainAccesses(m: Machine, stores: PendingStores): () => void {
  if (check === 'off') return noop;
  const owner = m as { u32: Uint32Array };
  const real = owner.u32;
  const look = (p: string, kind: 'read' | 'write'): void => {
    const c = thisCpu.id;
    if (c < 0 || c >= stores.n || !stores.anyPending(c)) return;
    const w = Number(p);
    if (Number.isInteger(w) && w >= 0 && stores.pending(c, w)) found(c, w, kind, stores.mode);
  };
  let proxy = proxies.get(m);
  if (!proxy)
    proxies.set(
      m,
      (proxy = new Proxy(real, {
        get: (t, p) => {
          if (typeof p === 'string') look(p, 'read');
          const v = Reflect.get(t, p) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
        set: (t, p, v) => {
          if (typeof p === 'string') look(p, 'write');
          return Reflect.set(t, p, v);
        },
      })),
    );
  Object.defineProperty(owner, 'u32', { value: proxy, configurable: true, writable: true, enumerable: true });
  return () => Object.defineProperty(owner, 'u32', { value: real, configurable: true, writable: true, enumerable: true });
}

function found(cpu: number, word: number, kind: 'read' | 'write', mode: string): void {
  const where = callerOutside();
  if (check === 'collect') {
    plainAccesses.push({ cpu, word, kind, where });
    return;
  }
  throw new InvariantError(
    'a CPU never accesses plainly a word pending in its own store buffer',
    `CPU${cpu} ${kind === 'read' ? 'read' : 'wrote'} word ${word} with a plain m.u32 access while its own store buffer holds a store to it (${mode}), at ${where}`,
  );
}

/** The first stack frame outside this file and the proxy: where the plain access was made. */
function callerOutside(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const at = lines.find((l) => !l.includes('/sched/plain_check.') && !l.includes('Proxy') && !l.includes('<anonymous>'));
  return at?.trim().replace(/^at /, '') ?? '(unknown)';
}
