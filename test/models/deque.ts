/* @two-way */
// A Chase-Lev work-stealing deque (Chase & Lev, SPAA 2005; the sequentially consistent
// form of Lê et al., PPoPP 2013), written as a user of the library would. The owner
// pushes tasks at the bottom and takes them back from the bottom; thieves steal from
// the top with a CAS. When one task is left, owner and thief race for it: the owner
// must win it with the same CAS on `top`.
//
// The planted bug (`noLastCas`): the owner takes the last task with a plain store to
// `top` instead of the CAS, so a thief whose CAS lands between the owner's read of
// `top` and its store takes the same task.
import {
  add32,
  alloc,
  cas32,
  defineModel,
  load32,
  type Machine,
  type Model,
  site,
  store32,
  violated,
  word,
} from '../../src/index.js';

const S_PUSH = site('deque:push');
const S_TAKE = site('deque:take');
const S_STEAL = site('deque:steal');
const SLOTS = 8;
const EMPTY = 0;

interface Deque {
  m: Machine;
  top: number;
  bottom: number;
  slot: (i: number) => number;
}

function* push(q: Deque, task: number) {
  const b = yield* load32(q.m, q.bottom, S_PUSH);
  yield* store32(q.m, q.slot(b), task, S_PUSH);
  yield* store32(q.m, q.bottom, b + 1, S_PUSH);
}

function* take(q: Deque, noLastCas: boolean) {
  const b = (yield* load32(q.m, q.bottom, S_TAKE)) - 1;
  yield* store32(q.m, q.bottom, b, S_TAKE);
  const t = yield* load32(q.m, q.top, S_TAKE);
  if (t > b) {
    yield* store32(q.m, q.bottom, b + 1, S_TAKE);
    return EMPTY;
  }
  let task = yield* load32(q.m, q.slot(b), S_TAKE);
  if (t === b) {
    // The last task: whoever moves `top` past it has it.
    if (noLastCas) yield* store32(q.m, q.top, t + 1, S_TAKE);
    else if (!(yield* cas32(q.m, q.top, t, t + 1, S_TAKE))) task = EMPTY;
    yield* store32(q.m, q.bottom, b + 1, S_TAKE);
  }
  return task;
}

function* steal(q: Deque) {
  const t = yield* load32(q.m, q.top, S_STEAL);
  const b = yield* load32(q.m, q.bottom, S_STEAL);
  if (t >= b) return EMPTY;
  const task = yield* load32(q.m, q.slot(t), S_STEAL);
  return (yield* cas32(q.m, q.top, t, t + 1, S_STEAL)) ? task : EMPTY;
}

/** CPU0 owns the deque: pushes `tasks` tasks, then takes until empty; the other CPUs steal `tasks` times each. */
export function chaseLev(opts: { noLastCas?: boolean; tasks?: number; cpus?: number } = {}): Model {
  const tasks = opts.tasks ?? 2;
  const cpus = opts.cpus ?? 2;
  return defineModel({
    name: `chase-lev${opts.noLastCas ? '-no-last-cas' : ''}`,
    doc: 'an owner pushes and takes tasks while thieves steal them',
    cpus,
    create(m) {
      const base = word(m, alloc(m, 4 * (4 + SLOTS + tasks + 1)));
      const q: Deque = { m, top: base, bottom: base + 1, slot: (i) => base + 4 + (i % SLOTS) };
      /** taken[task]: how many CPUs took it */
      const taken = base + 4 + SLOTS;
      function* got(task: number) {
        if (task !== EMPTY && (yield* add32(m, taken + task, 1, S_TAKE)) !== 0) violated(`task ${task} taken twice`);
      }
      return {
        *thread(cpu) {
          if (cpu.id === 0) {
            for (let i = 1; i <= tasks; i++) yield* push(q, i);
            for (;;) {
              const task = yield* take(q, opts.noLastCas ?? false);
              if (task === EMPTY) break;
              yield* got(task);
            }
          } else for (let i = 0; i < tasks; i++) yield* got(yield* steal(q));
        },
        finalCheck() {
          const lost: number[] = [];
          for (let i = 1; i <= tasks; i++) if (m.u32[taken + i] === 0) lost.push(i);
          return lost.length ? [`tasks ${lost.join(', ')} never taken`] : [];
        },
      };
    },
  });
}
