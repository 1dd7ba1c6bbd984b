// The bench harness: tinybench tasks that each run a batch of operations per call (so
// tinybench's own per-call cost is spread thin), reported as nanoseconds per operation
// and as a ratio to the calibration loop measured in the same run.
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
}

export interface BenchRow {
  name: string;
  unit: string;
  ns_per_op: number;
  ops_per_sec: number;
  ratio_to_calibration: number;
  rme_percent: number;
  samples: number;
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

export async function runBench(title: string, cases: BenchCase[], timeMs = 1000): Promise<BenchRow[]> {
  const bench = new Bench({ name: title, time: timeMs, warmupTime: 200 });
  const all = [calibrationCase(), ...cases];
  for (const c of all) bench.add(c.name, c.fn);
  await bench.run();
  const nsPerOp = (i: number): number => {
    const r = bench.tasks[i].result;
    if (r.state !== 'completed') throw new Error(`bench task ${all[i].name}: ${r.state}`);
    return (r.latency.mean * 1e6) / all[i].batch;
  };
  const cal = nsPerOp(0);
  return all.map((c, i) => {
    const r = bench.tasks[i].result as { latency: { rme: number }; latencySamplesCount?: number; samples?: unknown[] };
    const ns = nsPerOp(i);
    return {
      name: c.name,
      unit: c.unit,
      ns_per_op: Math.round(ns * 10) / 10,
      ops_per_sec: Math.round(1e9 / ns),
      ratio_to_calibration: Math.round((ns / cal) * 100) / 100,
      rme_percent: Math.round(r.latency.rme * 10) / 10,
      samples: (r as { latency: { samplesCount?: number } }).latency.samplesCount ?? 0,
    };
  });
}

export function printRows(title: string, rows: BenchRow[]): void {
  console.log(`\n${title}`);
  console.table(
    rows.map((r) => ({
      task: r.name,
      'ns/op': r.ns_per_op,
      'ops/s': r.ops_per_sec.toLocaleString('en-US'),
      'x calibration': r.ratio_to_calibration,
      '±%': r.rme_percent,
    })),
  );
}

export function saveResults(file: string, payload: unknown): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${file}`, `${JSON.stringify(payload, null, 2)}\n`);
}
