// Ctrl-C ends a run, not the evidence. While a long command (run, compare, race) works,
// the first SIGINT asks it to stop at its next safe point (the CPUs' stop word, or the
// end of the race run in hand); the command then runs its end-of-run checks, prints its
// summary and writes the files asked for, marked "interrupted", and exits 130. A second
// SIGINT exits at once: output files are written whole or not at all (output.ts), and
// the handler only runs between two writes, so no partial file is left.
//
// bin/slabsim.mjs counts SIGINTs that arrive while the CLI is still loading (a signal
// then would otherwise kill the process); the first command to listen takes them over.

/** Exit code of a command ended by Ctrl-C (128 + SIGINT), as a shell reports it. */
export const EXIT_INTERRUPTED = 130;

const EARLY = Symbol.for('slabsim.sigint.early');

interface Early {
  count: number;
  listener: () => void;
}

/** SIGINTs seen while loading, and stop counting them (the listener of bin/slabsim.mjs). */
export function takeEarlySigints(): number {
  const early = (process as unknown as Record<symbol, Early | undefined>)[EARLY];
  if (!early) return 0;
  process.removeListener('SIGINT', early.listener);
  (process as unknown as Record<symbol, Early | undefined>)[EARLY] = undefined;
  return early.count;
}

export interface Interrupt {
  /** aborted at the first SIGINT */
  readonly signal: AbortSignal;
  /** stop listening (the default action, ending the process, is back) */
  dispose(): void;
}

/**
 * Listen for Ctrl-C while a command works. `pending` SIGINTs seen before (while
 * loading) count as received now. The first aborts `signal` and says so on stderr.
 */
export function onInterrupt(pending = takeEarlySigints()): Interrupt {
  const controller = new AbortController();
  let received = 0;
  const listener = (): void => {
    received++;
    if (received > 1) {
      process.stderr.write('\nslabsim: interrupted again: quitting now\n');
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(
      '\nslabsim: interrupted: stopping at the next safe point, then checking and reporting (Ctrl-C again to quit now)\n',
    );
    controller.abort();
  };
  process.on('SIGINT', listener);
  for (let i = 0; i < pending; i++) listener();
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', listener) };
}

/** Let a pending SIGINT be handled (between two steps of a command's synchronous end). */
export const yieldToSignals = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
