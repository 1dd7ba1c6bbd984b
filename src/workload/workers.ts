import type { Piscina } from 'piscina';
import { workerFile } from '../package_files.js';
import type { CpuResult, CpuTask } from './task.js';

/**
 * Exactly `cpus` worker threads, one long task each per run. Runs one after another on
 * the same pool find their code already compiled (compare's repeated runs).
 */
export class CpuPool {
  /** The threads, started by the first run (piscina is loaded only then: most CLI commands start none). */
  private pool: Promise<Piscina> | undefined;

  constructor(readonly cpus: number) {}

  private threads(): Promise<Piscina> {
    this.pool ??= import('piscina').then(
      ({ Piscina }) =>
        new Piscina({
          filename: workerFile('cpu'),
          minThreads: this.cpus,
          maxThreads: this.cpus,
          idleTimeout: 60_000,
          workerData: { entry: './cpu.ts' },
        }),
    );
    return this.pool;
  }

  /** One task per CPU; the results by CPU id. */
  async run(task: CpuTask): Promise<CpuResult[]> {
    const pool = await this.threads();
    const results = await Promise.all(Array.from({ length: this.cpus }, () => pool.run(task) as Promise<CpuResult>));
    return results.sort((a, b) => a.cpu - b.cpu);
  }

  async destroy(): Promise<void> {
    if (this.pool) await (await this.pool).destroy();
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
