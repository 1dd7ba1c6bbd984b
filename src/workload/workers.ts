import { Piscina } from 'piscina';
import { workerFile } from '../package_files.js';
import type { CpuResult, CpuTask } from './task.js';

/**
 * Exactly `cpus` worker threads, one long task each per run. Runs one after another on
 * the same pool find their code already compiled (compare's repeated runs).
 */
export class CpuPool {
  private readonly pool: Piscina;

  constructor(readonly cpus: number) {
    this.pool = new Piscina({
      filename: workerFile('cpu'),
      minThreads: cpus,
      maxThreads: cpus,
      idleTimeout: 60_000,
      workerData: { entry: './cpu.ts' },
    });
  }

  /** One task per CPU; the results by CPU id. */
  async run(task: CpuTask): Promise<CpuResult[]> {
    const results = await Promise.all(Array.from({ length: this.cpus }, () => this.pool.run(task) as Promise<CpuResult>));
    return results.sort((a, b) => a.cpu - b.cpu);
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}

/** Run one long task per CPU on `cpus` worker threads (of `pool`, or of a pool made for it) and collect their results. */
export async function runOnWorkers(cpus: number, task: CpuTask, pool?: CpuPool): Promise<CpuResult[]> {
  if (pool) {
    if (pool.cpus !== cpus) throw new Error(`a pool of ${pool.cpus} threads cannot run ${cpus} CPUs`);
    return pool.run(task);
  }
  const own = new CpuPool(cpus);
  try {
    return await own.run(task);
  } finally {
    await own.destroy();
  }
}
