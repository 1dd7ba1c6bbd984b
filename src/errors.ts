// Three error channels, never mixed (docs/architecture.md):
// - out of memory returns 0 and counts a stat;
// - misuse (bad config, bad free, double free, wrong cache) throws a SlabError with a
//   code and leaves state unchanged;
// - a broken internal invariant throws an InvariantError naming the invariant.

/** Every misuse code, with its meaning. */
export const ERROR_CODES = {
  EINVAL: 'invalid argument',
  ELAYOUT: 'buffer is not a slabsim machine of this layout version',
  EBADFREE: 'free of memory that is not allocated as given',
  EBUSY: 'resource still in use',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What SLUB printed about a refused operation (kmem_cache_destroy's leak report), counted as KUnit counts. */
export interface SlabErrorReport {
  errors: number;
  messages: string[];
}

export class SlabError extends Error {
  readonly code: ErrorCode;
  /** the kernel's report of the problem, when it prints one */
  readonly report?: SlabErrorReport;
  constructor(code: ErrorCode, message: string, report?: SlabErrorReport) {
    super(message);
    this.name = 'SlabError';
    this.code = code;
    if (report) this.report = report;
  }
}

export class InvariantError extends Error {
  constructor(invariant: string, detail: string) {
    super(`invariant broken: ${invariant}: ${detail}`);
    this.name = 'InvariantError';
  }
}

/** Misuse: one clear message that says what was wrong and what was expected. */
export const slabError = (code: ErrorCode, message: string): SlabError => new SlabError(code, message);

/** Internal invariant check; `invariant` is the equation as written beside the state. */
export function assertInvariant(ok: boolean, invariant: string, detail: () => string): asserts ok {
  if (!ok) throw new InvariantError(invariant, detail());
}
