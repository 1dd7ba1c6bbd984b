/* @two-way */
// Classic mutual-exclusion locks built from plain loads and stores, written as a user of
// the library would: Peterson's and Dekker's algorithms for two CPUs, and a ticket lock.
// Each CPU enters its critical section `rounds` times; inside, it increments a counter
// with a plain load and store and checks that nobody else is inside. Under sequential
// consistency the correct forms hold; each broken form lets two CPUs in at once.
//
// Busy-waits are plain re-reads (optionally with cpuRelax()): the explorer must tell a
// CPU that waits from one whose next read would let it in (a false livelock otherwise).
//
// Under weaker memory (docs/memory-models.md) Peterson's lock needs fences: under tso a
// CPU's flag store waits in its store buffer while it reads the other's flag (a full fence
// after the turn store fixes that); under arm the flag and turn stores may also become
// visible in either order (a fence between them as well), and the spin's reads may be
// satisfied early (a fence after the spin).
import {
  add32,
  alloc,
  cpuRelax,
  defineModel,
  fence,
  load32,
  type Machine,
  type Model,
  site,
  store32,
  violated,
  word,
} from 'slabsim';

const S_ENTER = site('lock:enter');
const S_CRIT = site('lock:critical');
const S_EXIT = site('lock:exit');

export interface LockOptions {
  /** the planted bug (see each model) */
  broken?: boolean;
  /** call cpuRelax() in every spin iteration */
  relax?: boolean;
  /** times each CPU enters (default 2) */
  rounds?: number;
  /**
   * Peterson only: smp_mb() after the turn store (`turn`), or also between the flag and
   * turn stores and after the spin (`all`). Default: none.
   */
  fences?: 'turn' | 'all';
}

interface Shared {
  m: Machine;
  /** CPUs inside the critical section */
  inside: number;
  counter: number;
}

/** The critical section: one CPU at a time, checked; a plain read-modify-write of the counter. */
function* critical(s: Shared) {
  const others = yield* add32(s.m, s.inside, 1, S_CRIT);
  if (others !== 0) violated(`two CPUs in the critical section`);
  const v = yield* load32(s.m, s.counter, S_CRIT);
  yield* store32(s.m, s.counter, v + 1, S_CRIT);
  yield* add32(s.m, s.inside, -1, S_CRIT);
}

function lockModel(
  name: string,
  doc: string,
  cpus: number,
  opts: LockOptions,
  body: (s: Shared, words: number, cpu: number) => Generator<number, void, unknown>,
): Model {
  const rounds = opts.rounds ?? 2;
  return defineModel({
    name: `${name}${opts.broken ? '-broken' : ''}${opts.relax ? '-relax' : ''}${opts.fences ? `-mb-${opts.fences}` : ''}`,
    doc,
    cpus,
    create(m) {
      const base = word(m, alloc(m, 64));
      const s: Shared = { m, inside: base, counter: base + 1 };
      return {
        *thread(cpu) {
          for (let i = 0; i < rounds; i++) yield* body(s, base + 2, cpu.id);
        },
        finalCheck: () =>
          m.u32[s.counter] === cpus * rounds ? [] : [`counter is ${m.u32[s.counter]}, expected ${cpus * rounds}`],
        outcome: () => `counter ${m.u32[s.counter]}`,
      };
    },
  });
}

/**
 * Peterson's lock: flag[me] = 1; turn = other; wait while flag[other] && turn == other.
 * Broken: `turn = me` (each CPU gives the turn to itself), so both can pass.
 */
export function peterson(opts: LockOptions = {}): Model {
  return lockModel('peterson', "two CPUs enter a critical section through Peterson's lock", 2, opts, function* (s, w, me) {
    const { m } = s;
    const flag = (c: number) => w + c;
    const turn = w + 2;
    const other = 1 - me;
    yield* store32(m, flag(me), 1, S_ENTER);
    if (opts.fences === 'all') yield* fence(m, 'mb', S_ENTER);
    yield* store32(m, turn, opts.broken ? me : other, S_ENTER);
    if (opts.fences) yield* fence(m, 'mb', S_ENTER);
    while ((yield* load32(m, flag(other), S_ENTER)) === 1 && (yield* load32(m, turn, S_ENTER)) === other)
      if (opts.relax) yield* cpuRelax();
    if (opts.fences === 'all') yield* fence(m, 'mb', S_ENTER);
    yield* critical(s);
    yield* store32(m, flag(me), 0, S_EXIT);
  });
}

/**
 * Dekker's lock: raise my flag; while the other's flag is up, if it is the other's turn,
 * lower mine, wait for the turn, raise it again. Exit: turn = other, lower my flag.
 * Broken: the entry does not look at the other's flag at all once the turn is mine.
 */
export function dekker(opts: LockOptions = {}): Model {
  return lockModel('dekker', "two CPUs enter a critical section through Dekker's lock", 2, opts, function* (s, w, me) {
    const { m } = s;
    const flag = (c: number) => w + c;
    const turn = w + 2;
    const other = 1 - me;
    yield* store32(m, flag(me), 1, S_ENTER);
    while (!opts.broken && (yield* load32(m, flag(other), S_ENTER)) === 1) {
      if ((yield* load32(m, turn, S_ENTER)) !== me) {
        yield* store32(m, flag(me), 0, S_ENTER);
        while ((yield* load32(m, turn, S_ENTER)) !== me) if (opts.relax) yield* cpuRelax();
        yield* store32(m, flag(me), 1, S_ENTER);
      } else if (opts.relax) yield* cpuRelax();
    }
    if (opts.broken) while ((yield* load32(m, turn, S_ENTER)) !== me && (yield* load32(m, flag(other), S_ENTER)) === 1) continue;
    yield* critical(s);
    yield* store32(m, turn, other, S_EXIT);
    yield* store32(m, flag(me), 0, S_EXIT);
  });
}

/**
 * A ticket lock: take a ticket with add32 on `next`, wait until `owner` shows it, leave by
 * bumping `owner`. Broken: the ticket is read and bumped with a plain load and store, so
 * two CPUs can draw the same ticket.
 */
export function ticketLock(opts: LockOptions & { cpus?: number } = {}): Model {
  return lockModel('ticket-lock', 'CPUs enter a critical section in ticket order', opts.cpus ?? 2, opts, function* (s, w) {
    const { m } = s;
    const next = w;
    const owner = w + 1;
    let ticket: number;
    if (opts.broken) {
      ticket = yield* load32(m, next, S_ENTER);
      yield* store32(m, next, ticket + 1, S_ENTER);
    } else ticket = yield* add32(m, next, 1, S_ENTER);
    while ((yield* load32(m, owner, S_ENTER)) !== ticket) if (opts.relax) yield* cpuRelax();
    yield* critical(s);
    const o = yield* load32(m, owner, S_EXIT);
    yield* store32(m, owner, o + 1, S_EXIT);
  });
}
