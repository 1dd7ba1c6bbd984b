// The bench harness, on tinybench. Each case runs a batch of operations per call and is
// one tinybench task. The tasks of a table take turns in rounds: each round is one short
// tinybench run (10 ms of CPU time) of every task, the calibration first. A row's cost is
// the median over rounds of its run's mean, and a ratio between two rows is the median
// over rounds of the ratio of their runs in the same round: on a shared, noisy machine
// neither a load spike nor a slow drift of the load moves it much. tinybench's own
// statistics (mean, p75, p99, samples) are taken over every call of every round.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { cas64 } from '../src/shm/atomic.fast.js';
import { create } from '../src/shm/machine.js';

export interface BenchCase {
  name: string;
  /** operations per call of `fn` */
  batch: number;
  fn: () => void;
  /** what one operation is, for the table */
  unit: string;
  /**
   * 'scheduled': the generator form, measured with V8's default flags as `race` runs it;
   * else free-running, measured with the workloads' flags as `run` runs it (src/workload/v8_flags.ts)
   */
  form?: 'scheduled';
}

/** tinybench's statistics of a row over all its calls, per operation (a call's time over its batch). */
export interface TinybenchStats {
  mean_ns: number;
  p50_ns: number;
  p75_ns: number;
  p99_ns: number;
  min_ns: number;
  max_ns: number;
  /** relative margin of error of the mean, percent */
  rme_percent: number;
  /** calls timed, over all rounds */
  samples: number;
}

export interface BenchRow {
  name: string;
  unit: string;
  /** the median over rounds of the row's mean per operation */
  ns_per_op: number;
  ops_per_sec: number;
  /** the median over rounds of this row's mean over the calibration's mean of the same round */
  ratio_to_calibration: number;
  /** interquartile range of the rounds' means, in percent of the median */
  iqr_percent: number;
  /** ns per operation of each round's run (its mean), in round order (rows of one runBench pair up by index) */
  slices: number[];
  tinybench: TinybenchStats;
}

export const CALIBRATION = 'calibration: bare 64-bit CAS pair';

/**
 * The calibration loop: the bare 64-bit CAS pair on a padded word, built the way the
 * simulator builds it (two Int32 halves into BigInts, one Atomics.compareExchange on a
 * BigInt64Array); one operation = two CASes, like one alloc + one free on the fast path.
 */
export function calibrationCase(batch = 1000): BenchCase {
  const m = create({ cpus: 1, memory: 1 << 20 });
  const word = m.cpuBase; // the 128-byte padded per-CPU region of CPU 0
  return {
    name: CALIBRATION,
    unit: 'CAS pair',
    batch,
    fn: () => {
      const u = m.u32;
      for (let i = 0; i < batch; i++) {
        const lo = u[word];
        const hi = u[word + 1];
        cas64(m, word, lo, hi, lo + 1, hi, 0);
        cas64(m, word, lo + 1, hi, lo, hi + 1, 0);
      }
    },
  };
}

/**
 * `value` behind a field the compiler cannot fold. A case's closure constants, and the
 * fields of objects reached only through them, are constants to TurboFan: it folds the
 * cache view's offsets into the code, which the simulator's own calls (the cache and CPU
 * as arguments) never get; measured 13-17% cheaper on SLUB's fast path. A field stored
 * twice is no longer constant, so a case that reads its operands from here measures
 * the code as the simulator runs it.
 */
export function opaque<T>(value: T): { readonly v: T } {
  const box: { v: T | null } = { v: null };
  box.v = value;
  return box as { v: T };
}

/**
 * tinybench's clock: CPU time of this process in milliseconds (user + system), so that
 * time the thread spends descheduled on a shared machine does not count.
 */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const ROUND_MS = 10;
const WARMUP_MS = 200;

const median = (xs: readonly number[]): number =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** The median over rounds of a's mean over b's (rows of the same runBench), rounded to 0.01. */
export const pairedRatio = (a: BenchRow, b: BenchRow): number =>
  Math.round(median(a.slices.map((x, r) => x / b.slices[r])) * 100) / 100;

/**
 * tinybench's statistics over the calls of every round, per operation. tinybench computes
 * them per run: a task run once more, with each call's recorded time over its batch
 * handed back as the duration of a call (`overriddenDuration`), computes them over all.
 */
function overAllRounds(perOpMs: number[]): TinybenchStats {
  const bench = new Bench({ time: 0, iterations: perOpMs.length, warmup: false, throws: true });
  let k = 0;
  const [task] = bench.add('all rounds', () => ({ overriddenDuration: perOpMs[k++] })).runSync();
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`tinybench did not complete its statistics: ${r.state}`);
  const ns = (ms: number): number => Math.round(ms * 1e7) / 10;
  const t = r.latency;
  return {
    mean_ns: ns(t.mean),
    p50_ns: ns(t.p50),
    p75_ns: ns(t.p75),
    p99_ns: ns(t.p99),
    min_ns: ns(t.min),
    max_ns: ns(t.max),
    rme_percent: Math.round(t.rme * 100) / 100,
    samples: t.samplesCount,
  };
}

/**
 * Run the calibration and `cases` as tinybench tasks in rounds of one 10 ms tinybench run
 * each, for about `timeMs` of CPU time per case (after a 200 ms warm-up each).
 */
export async function runBench(title: string, cases: BenchCase[], timeMs = 1500): Promise<BenchRow[]> {
  const all = [calibrationCase(), ...cases];
  const bench = new Bench({
    name: title,
    now: cpuMs,
    time: ROUND_MS,
    iterations: 1,
    warmup: false,
    warmupTime: WARMUP_MS,
    warmupIterations: 1,
    retainSamples: true,
    throws: true,
  });
  for (const c of all) bench.add(c.name, c.fn);
  for (const task of bench.tasks) task.warmupSync();
  const slices = all.map((): number[] => []);
  const calls = all.map((): number[] => []);
  const rounds = Math.max(5, Math.round(timeMs / ROUND_MS));
  for (let r = 0; r < rounds; r++) {
    bench.reset();
    bench.runSync().forEach((task, i) => {
      const { result } = task;
      if (result.state !== 'completed') throw new Error(`${task.name}: tinybench run ${result.state}`);
      slices[i].push((result.latency.mean * 1e6) / all[i].batch);
      for (const ms of result.latency.samples ?? []) calls[i].push(ms / all[i].batch);
    });
    await new Promise((resolve) => setImmediate(resolve)); // let a pending signal or timer in
  }
  const rows = all.map((c, i): BenchRow => {
    const mid = median(slices[i]);
    const sorted = [...slices[i]].sort((a, b) => a - b);
    return {
      name: c.name,
      unit: c.unit,
      ns_per_op: Math.round(mid * 10) / 10,
      ops_per_sec: Math.round(1e9 / mid),
      ratio_to_calibration: 1,
      iqr_percent: Math.round(((quantile(sorted, 0.75) - quantile(sorted, 0.25)) / mid) * 1000) / 10,
      slices: slices[i],
      tinybench: overAllRounds(calls[i]),
    };
  });
  for (const row of rows) row.ratio_to_calibration = pairedRatio(row, rows[0]);
  return rows;
}

/** One table: the paired figures beside tinybench's statistics over all rounds. */
export function printRows(title: string, rows: BenchRow[]): void {
  console.log(`\n${title}`);
  console.table(
    rows.map((r) => ({
      task: r.name,
      'ns/op': r.ns_per_op,
      'ops/s': r.ops_per_sec.toLocaleString('en-US'),
      'x calibration': r.ratio_to_calibration,
      'iqr %': r.iqr_percent,
      'mean ns': r.tinybench.mean_ns,
      'p75 ns': r.tinybench.p75_ns,
      'p99 ns': r.tinybench.p99_ns,
      samples: r.tinybench.samples,
    })),
  );
}

export function saveResults(file: string, payload: unknown): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${file}`, `${JSON.stringify(payload, null, 2)}\n`);
}
