// The schedule-point protocol shared by two-way modules and the scheduler.
//
// A two-way function is a generator `function* f(...): Step<T>`. Each `yield` hands the
// scheduler a point: a site id in the low 16 bits, and flags above it. The free form
// (scripts/twoway.mjs) drops the yields, so none of this costs anything there.

/** A suspendable computation returning T; yields schedule points. */
export type Step<T = void> = Generator<number, T, unknown>;

/** The yielding CPU cannot progress until another CPU writes the word in `blockedOn`. */
export const BLOCK = 1 << 16;
/**
 * The yielding CPU is waiting for another CPU (cpu_relax() in a busy-wait): the scheduler
 * runs others first until one of them writes a word this CPU has read.
 */
export const RELAX = 1 << 17;
export const SITE_MASK = 0xffff;

const names: string[] = ['(start)'];
const ids = new Map<string, number>([['(start)', 0]]);

/**
 * The id of a named schedule point, registered on first use. Names are kernel function
 * names (`'__slab_free'`, `'get_freelist'`), optionally with a suffix after a colon.
 * Ids depend on load order, so schedules never store them: traces print names.
 */
export function site(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.length;
    if (id > SITE_MASK) throw new Error('too many schedule sites');
    names.push(name);
    ids.set(name, id);
  }
  return id;
}

export const siteName = (point: number): string => names[point & SITE_MASK] ?? `site#${point & SITE_MASK}`;
