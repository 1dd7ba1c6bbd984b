// The bench harness. Each case runs a batch of operations per call. The cases take
// turns in short slices, one slice of each per round, each slice timed in CPU time. A
// row's cost is the median of its slices, and a ratio between two rows is the median
// over rounds of the ratio of their slices in the same round: on a shared, noisy machine
// neither a load spike nor a slow drift of the load moves it much.
import { mkdirSync, writeFileSync } from 'node:fs';
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

export interface BenchRow {
  name: string;
  unit: string;
  /** the median slice */
  ns_per_op: number;
  ops_per_sec: number;
  /** the median over rounds of this row's slice over the calibration's slice of the same round */
  ratio_to_calibration: number;
  /** interquartile range of the slices, in percent of the median */
  iqr_percent: number;
  /** ns per operation of each round's slice, in round order (rows of one runBench pair up by index) */
  slices: number[];
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

/** CPU time of this process in nanoseconds (user + system). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Call `c.fn` until `ns` of CPU time have passed; nanoseconds per operation. */
function slice(c: BenchCase, ns: number): number {
  const t0 = cpuNs();
  let calls = 0;
  let t = t0;
  do {
    c.fn();
    calls++;
    t = cpuNs();
  } while (t - t0 < ns);
  return (t - t0) / (calls * c.batch);
}

const SLICE_NS = 10e6;
const WARMUP_NS = 200e6;

const median = (xs: readonly number[]): number =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** The median over rounds of a's slice over b's (rows of the same runBench), rounded to 0.01. */
export const pairedRatio = (a: BenchRow, b: BenchRow): number =>
  Math.round(median(a.slices.map((x, r) => x / b.slices[r])) * 100) / 100;

/**
 * Run the calibration and `cases` in rounds of one 10 ms slice each, for about `timeMs`
 * of CPU time per case (after a 200 ms warm-up each).
 */
export async function runBench(title: string, cases: BenchCase[], timeMs = 1500): Promise<BenchRow[]> {
  const all = [calibrationCase(), ...cases];
  for (const c of all) slice(c, WARMUP_NS);
  const slices = all.map((): number[] => []);
  const rounds = Math.max(5, Math.round((timeMs * 1e6) / SLICE_NS));
  for (let r = 0; r < rounds; r++) {
    all.forEach((c, i) => slices[i].push(slice(c, SLICE_NS)));
    await new Promise((resolve) => setImmediate(resolve)); // let a pending signal or timer in
  }
  const rows = all.map((c, i): BenchRow => {
    const ns = median(slices[i]);
    const sorted = [...slices[i]].sort((a, b) => a - b);
    return {
      name: c.name,
      unit: c.unit,
      ns_per_op: Math.round(ns * 10) / 10,
      ops_per_sec: Math.round(1e9 / ns),
      ratio_to_calibration: 1,
      iqr_percent: Math.round(((quantile(sorted, 0.75) - quantile(sorted, 0.25)) / ns) * 1000) / 10,
      slices: slices[i],
    };
  });
  for (const row of rows) row.ratio_to_calibration = pairedRatio(row, rows[0]);
  return rows;
}

export function printRows(title: string, rows: BenchRow[]): void {
  console.log(`\n${title}`);
  console.table(
    rows.map((r) => ({
      task: r.name,
      'ns/op': r.ns_per_op,
      'ops/s': r.ops_per_sec.toLocaleString('en-US'),
      'x calibration': r.ratio_to_calibration,
      'iqr %': r.iqr_percent,
    })),
  );
}

export function saveResults(file: string, payload: unknown): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${file}`, `${JSON.stringify(payload, null, 2)}\n`);
}
