import cliProgress from 'cli-progress';

/**
 * A progress bar with ops/s and ETA, on a terminal only (none when piped or quiet).
 * Returns the callback for runWorkload's onProgress and a function that ends the bar.
 * `unit` names what is counted (operations by default).
 */
export function progressBar(
  totalOps: number,
  show: boolean,
  durationMs?: number,
  unit = 'ops',
): { update: (ops: number) => void; stop: () => void } {
  if (!show || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  if (durationMs !== undefined) return timedBar(durationMs);
  const bar = new cliProgress.SingleBar(
    {
      format: `  {bar} {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  bar.start(totalOps, 0, { rate: 0 });
  return {
    update: (ops) =>
      bar.update(Math.min(ops, totalOps), { rate: Math.round(ops / Math.max((performance.now() - t0) / 1000, 1e-3)) }),
    stop: () => bar.stop(),
  };
}

/** For --duration: the bar measures time; the ops/s are shown beside it. */
function timedBar(durationMs: number): { update: (ops: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: '  {bar} {percentage}% | {ops} ops | {rate} ops/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  bar.start(durationMs, 0, { ops: 0, rate: 0 });
  return {
    update: (ops) => {
      const elapsed = performance.now() - t0;
      bar.update(Math.min(elapsed, durationMs), { ops, rate: Math.round(ops / Math.max(elapsed / 1000, 1e-3)) });
    },
    stop: () => bar.stop(),
  };
}
