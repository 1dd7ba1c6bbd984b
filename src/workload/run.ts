// Run a workload on real worker threads and check what is left: the ledger and the
// allocator's own invariants. Every run ends with these checks.
import type { MachineConfig } from '../config.js';
import { validateZones } from '../mm/zone_validate.js';
import { freePageCount, nrFree } from '../report/buddyinfo.js';
import { cpuOpsDone, create, type Machine } from '../shm/machine.js';
import type { CpuResult } from './task.js';
import { runOnWorkers } from './workers.js';

export const RUN_SCHEMA = 'slabsim-run/1';
export const WORKLOADS = ['pages'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface RunOptions {
  workload: WorkloadName;
  machine: Partial<MachineConfig>;
  ops: number;
  seed: number;
  maxOrder: number;
  maxHeld: number;
  /** called about 10 times a second with the operations done so far */
  onProgress?: (opsDone: number) => void;
}

export interface RunReport {
  schema: typeof RUN_SCHEMA;
  workload: WorkloadName;
  config: MachineConfig;
  seed: number;
  ops: number;
  /** the parallel phase: from the start barrier to the last CPU's end */
  elapsed_ms: number;
  ops_per_sec: number;
  /** including thread start-up and teardown */
  wall_ms: number;
  per_cpu: Array<{ cpu: number; node: number; ops: number; allocs: number; frees: number; failed: number; elapsed_ms: number }>;
  pages: { total: number; free: number; buddyinfo: Array<{ node: number; nr_free: number[] }> };
  checks: { ok: boolean; double_issue: number; lost: number; live: number; validate_errors: number; messages: string[] };
}

export async function runWorkload(opts: RunOptions): Promise<RunReport> {
  const m = create(opts.machine);
  const progress = opts.onProgress ? setInterval(() => opts.onProgress?.(opsDone(m)), 100) : undefined;
  const t0 = performance.now();
  let results: CpuResult[];
  try {
    results = await runOnWorkers(m.cfg.cpus, {
      sab: m.sab,
      workload: opts.workload,
      ops: opts.ops,
      seed: opts.seed,
      pages: { maxOrder: opts.maxOrder, maxHeld: opts.maxHeld },
    });
  } finally {
    if (progress) clearInterval(progress);
  }
  const elapsed = performance.now() - t0;
  opts.onProgress?.(opsDone(m));
  return report(m, opts, results, elapsed);
}

const opsDone = (m: Machine): number => {
  let sum = 0;
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) sum += cpuOpsDone(m, cpu);
  return sum;
};

function report(m: Machine, opts: RunOptions, results: CpuResult[], wallMs: number): RunReport {
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs));
  const total = m.cfg.nodes * m.pagesPerNode;
  const free = freePageCount(m);
  const ops = results.reduce((s, r) => s + r.ops, 0);
  const doubleIssue = results.reduce((s, r) => s + r.doubleIssue, 0);
  // Every CPU frees what it took before it stops, so nothing is live at the end and
  // any page not free was lost.
  const live = 0;
  const lost = total - free - live;
  const messages = validateZones(m);
  if (doubleIssue) messages.push(`ledger: ${doubleIssue} blocks were handed to two CPUs at once`);
  if (lost) messages.push(`ledger: ${lost} pages neither free nor held by any CPU`);
  return {
    schema: RUN_SCHEMA,
    workload: opts.workload,
    config: { ...m.cfg },
    seed: opts.seed,
    ops,
    elapsed_ms: round(elapsedMs),
    ops_per_sec: Math.round(ops / (elapsedMs / 1000)),
    wall_ms: round(wallMs),
    per_cpu: results.map((r) => ({
      cpu: r.cpu,
      node: r.node,
      ops: r.ops,
      allocs: r.allocs,
      frees: r.frees,
      failed: r.failed,
      elapsed_ms: round(r.elapsedMs),
    })),
    pages: {
      total,
      free,
      buddyinfo: Array.from({ length: m.cfg.nodes }, (_, node) => ({ node, nr_free: nrFree(m, node) })),
    },
    checks: {
      ok: messages.length === 0,
      double_issue: doubleIssue,
      lost,
      live,
      validate_errors: messages.length - (doubleIssue ? 1 : 0) - (lost ? 1 : 0),
      messages,
    },
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;
