// What a sleep-set search (dfs.ts, weaker memory modes without a bound) needs to know of
// two actions of one state: whether running them in either order gives the same state.
import { FENCE, LOAD, OP, ORDER } from '../event.js';
import type { WeakMode } from '../weak.js';

/**
 * What an action touches, for a search that skips orders of actions that commute (sleep
 * sets, strategies/dfs.ts): LOCAL changes only its CPU's own state (a buffered store, a
 * wmb or rmb, a step without an access), READ reads `word`, WRITE (a flush) writes `word`
 * to memory, GLOBAL may write memory anywhere (an RMW, a lock, an smp_mb that drains the
 * buffer, an Atomics access). Every write that reaches memory takes the next timestamp,
 * and the order of timestamps is seen by views: two writes never commute.
 */
export const TOUCH = { LOCAL: 0, READ: 1, WRITE: 2, GLOBAL: 3 } as const;

/** One action's CPU (a flush: the buffer's) and what it touches (TOUCH). */
export interface Footprint {
  action: number;
  cpu: number;
  touch: number;
  word: number;
}

/** The footprint of CPU `cpu`'s next step, from its pending access (src/sched/event.ts). */
export function stepFootprint(cpu: number, op: number, word: number, arg: number, mode: WeakMode): Footprint {
  let touch: number = TOUCH.GLOBAL;
  if (op === OP.NONE || (op === OP.FENCE && arg !== FENCE.MB)) touch = TOUCH.LOCAL;
  else if (op === OP.STORE) touch = arg === ORDER.FULL ? TOUCH.GLOBAL : TOUCH.LOCAL;
  else if (op === OP.UNLOCK) touch = mode === 'js' ? TOUCH.GLOBAL : TOUCH.LOCAL;
  else if (op === OP.LOAD) touch = arg === LOAD.SC ? TOUCH.GLOBAL : TOUCH.READ;
  else if (op === OP.WAIT) touch = TOUCH.READ;
  else if (op === OP.FLUSH) touch = TOUCH.WRITE;
  return { action: cpu, cpu, touch, word };
}

/** Whether two actions of one state may be run in either order with the same result. */
export function commute(a: Footprint, b: Footprint): boolean {
  if (a.cpu === b.cpu) return false;
  if (a.touch === TOUCH.LOCAL || b.touch === TOUCH.LOCAL) return true;
  if (a.touch === TOUCH.GLOBAL || b.touch === TOUCH.GLOBAL) return false;
  if (a.touch === TOUCH.READ && b.touch === TOUCH.READ) return true;
  if (a.touch === TOUCH.WRITE && b.touch === TOUCH.WRITE) return false;
  return a.word !== b.word;
}
