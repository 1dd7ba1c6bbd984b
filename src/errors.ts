// Three error channels, never mixed (docs/architecture.md):
// - out of memory returns 0 and counts a stat;
// - misuse (bad config, bad free, double free, wrong cache) throws a SlabError with a
//   code and leaves state unchanged;
// - a broken internal invariant throws an InvariantError naming the invariant.

/** Every misuse code, with its meaning. */
export const ERROR_CODES = {
  /** a bad argument or setting */
  EINVAL: 'invalid argument',
  /** attach() to a buffer that is not a machine of this layout */
  ELAYOUT: 'buffer is not a slabsim machine of this layout version',
  /** a free of something that is not allocated as given (double free, wrong cache, bad pointer) */
  EBADFREE: 'free of memory that is not allocated as given',
  /** a cache destroyed with objects left, or another resource in use */
  EBUSY: 'resource still in use',
} as const;

/** A SlabError's code: one of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** What SLUB printed about a refused operation (kmem_cache_destroy's leak report), counted as KUnit counts. */
export interface SlabErrorReport {
  /** the errors SLUB counted */
  errors: number;
  /** the lines it printed */
  messages: string[];
}

/**
 * Misuse of the simulated allocator or machine (a bad free, a bad argument): the
 * operation changed nothing. Inside a race run it is a finding.
 */
export class SlabError extends Error {
  /** what kind of misuse (ERROR_CODES) */
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

/**
 * A model broken as a program (not a race it exposes): a wrong shape, a thread or a
 * check that throws an ordinary error. The CLI prints it in one line and exits 2.
 */
export class ModelError extends Error {
  /** the model at fault, when known (the CLI then names its file) */
  readonly model?: string;
  constructor(message: string, model?: string) {
    super(message);
    this.name = 'ModelError';
    if (model !== undefined) this.model = model;
  }
}

/** A violated property, raised by a model's own code (`violated()`): a finding, like a failed check. */
export class RaceViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaceViolation';
  }
}

const FINDINGS = new Set(['SlabError', 'InvariantError', 'RaceViolation']);

/**
 * Errors slabsim's own checks raise: inside a race run they are findings, never model
 * bugs. By name, not instanceof: a model may have loaded another copy of this module.
 */
export const isFinding = (e: unknown): boolean => e instanceof Error && FINDINGS.has(e.name);
