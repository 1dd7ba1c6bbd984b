// Wakeup trees of optimal DPOR ([POPL14] Algorithm 2, memory-models.md §7.3): at each
// state, an ordered tree of event sequences still to explore from there, each the
// reversal of a race, inserted only where no branch already covers it.
//
// Initials of a sequence w: the CPUs whose first event in w depends on nothing before it
// in w (it could go first). Weak initials at a state add the CPUs absent from w whose
// next event there is independent of all of w (running it first changes nothing of w).
import { dependent, type Ev } from './trace.js';

/** A node of a wakeup tree: an event, and the sequences that continue it, leftmost first. */
export interface WuNode {
  ev: Ev;
  children: WuNode[];
}

/** The index in `w` of `cpu`'s first event, or -1. */
const firstOf = (w: readonly Ev[], cpu: number): number => w.findIndex((e) => e.cpu === cpu);

/** Whether w[i] depends on nothing before it in w. */
function free(w: readonly Ev[], i: number): boolean {
  for (let k = 0; k < i; k++) if (dependent(w[k], w[i])) return false;
  return true;
}

/** I(w): the CPUs that could take the first step of w. */
export function initials(w: readonly Ev[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < w.length; i++) {
    const cpu = w[i].cpu;
    if (!out.includes(cpu) && firstOf(w, cpu) === i && free(w, i)) out.push(cpu);
  }
  return out;
}

/**
 * Whether the CPU whose next event is `ev` is a weak initial of w: it is in w and its
 * first event there depends on nothing before it, or it is not in w and `ev` depends on
 * none of w.
 */
export function weakInitial(ev: Ev, w: readonly Ev[]): boolean {
  const i = firstOf(w, ev.cpu);
  if (i >= 0) return free(w, i);
  return w.every((x) => !dependent(x, ev));
}

/**
 * insert[E](w): add w under `children` unless a branch already covers it. Walk down the
 * leftmost children that are weak initials of what is left of w (taking the child's own
 * event out of w when its CPU is in w); a leaf reached means w is covered, a node with no
 * such child gets the rest of w as a new rightmost chain.
 */
export function insert(children: WuNode[], w: readonly Ev[]): void {
  let rest = w.slice();
  let level = children;
  for (;;) {
    if (rest.length === 0) return;
    const c = level.find((x) => weakInitial(x.ev, rest));
    if (!c) {
      level.push(chain(rest));
      return;
    }
    if (c.children.length === 0) return;
    const i = firstOf(rest, c.ev.cpu);
    if (i >= 0) rest = [...rest.slice(0, i), ...rest.slice(i + 1)];
    level = c.children;
  }
}

function chain(w: readonly Ev[]): WuNode {
  const root: WuNode = { ev: w[0], children: [] };
  let at = root;
  for (let i = 1; i < w.length; i++) {
    const next: WuNode = { ev: w[i], children: [] };
    at.children.push(next);
    at = next;
  }
  return root;
}
