/* @two-way */
// Busy-waiting models, written as a user of the library would (imports from the public
// entry only): a flag hand-off whose consumer spins on a plain load, and a counter
// under a test-and-set lock that spins on xchg. Each has a planted bug behind an option.
import { cpuRelax, defineModel, load32, type Model, site, store32, word, alloc, xchg32 } from '../../src/index.js';

const S_PRODUCE = site('handoff:produce');
const S_CONSUME = site('handoff:consume');

/** CPU0 writes data then raises a flag; CPU1 spins until the flag is up, then reads data. Broken: flag first. */
export function flagHandoff(opts: { broken?: boolean; relax?: boolean } = {}): Model {
  return defineModel({
    name: `handoff${opts.broken ? '-flag-first' : ''}${opts.relax ? '-relax' : ''}`,
    doc: 'a consumer spins on a flag a producer raises after writing the data',
    cpus: 2,
    create(m) {
      const data = word(m, alloc(m, 8));
      const flag = data + 1;
      let seen = -1;
      return {
        *thread(cpu) {
          if (cpu.id === 0) {
            if (opts.broken) yield* store32(m, flag, 1, S_PRODUCE);
            yield* store32(m, data, 42, S_PRODUCE);
            if (!opts.broken) yield* store32(m, flag, 1, S_PRODUCE);
            return;
          }
          while ((yield* load32(m, flag, S_CONSUME)) === 0) if (opts.relax) yield* cpuRelax();
          seen = yield* load32(m, data, S_CONSUME);
        },
        finalCheck: () => (seen === 42 ? [] : [`consumer read data ${seen} after the flag was up`]),
        outcome: () => `seen ${seen}`,
      };
    },
  });
}

const S_LOCK = site('tas:lock');
const S_CRIT = site('tas:critical');

/** CPUs add to a counter under a test-and-set lock (xchg until 0 comes back). Broken: no lock. */
export function tasCounter(opts: { broken?: boolean; cpus?: number; adds?: number } = {}): Model {
  const cpus = opts.cpus ?? 2;
  const adds = opts.adds ?? 2;
  return defineModel({
    name: `tas-counter${opts.broken ? '-unlocked' : ''}`,
    doc: 'CPUs add to a counter under a test-and-set spin lock',
    cpus,
    create(m) {
      const lock = word(m, alloc(m, 8));
      const counter = lock + 1;
      return {
        *thread() {
          for (let i = 0; i < adds; i++) {
            if (!opts.broken) while ((yield* xchg32(m, lock, 1, S_LOCK)) !== 0) continue; // spin
            const v = yield* load32(m, counter, S_CRIT);
            yield* store32(m, counter, v + 1, S_CRIT);
            if (!opts.broken) yield* store32(m, lock, 0, S_LOCK);
          }
        },
        finalCheck: () => (m.u32[counter] === cpus * adds ? [] : [`counter is ${m.u32[counter]}, expected ${cpus * adds}`]),
        outcome: () => `counter ${m.u32[counter]}`,
      };
    },
  });
}

/** CPU0 spins on a flag that nobody ever raises: a real livelock. */
export const neverRaised: Model = defineModel({
  name: 'never-raised',
  cpus: 2,
  create(m) {
    const flag = word(m, alloc(m, 8));
    return {
      *thread(cpu) {
        if (cpu.id === 0) while ((yield* load32(m, flag, S_CONSUME)) === 0) continue; // spin
      },
    };
  },
});

/** CPU0 counts up forever: it changes memory at every step, so only the step limit stops it. */
export const countsForever: Model = defineModel({
  name: 'counts-forever',
  cpus: 2,
  create(m) {
    const n = word(m, alloc(m, 8));
    return {
      *thread(cpu) {
        if (cpu.id === 0) for (;;) yield* store32(m, n, m.u32[n] + 1, S_PRODUCE);
      },
    };
  },
});
