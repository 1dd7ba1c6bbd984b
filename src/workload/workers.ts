import { Piscina } from 'piscina';
import type { CpuResult, CpuTask } from './task.js';

/**
 * The worker entry: built runs load dist/workers/cpu.js; runs from source (vitest, tsx)
 * load workers/boot.mjs, which registers tsx before importing workers/cpu.ts.
 */
function workerFile(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? '../../workers/boot.mjs' : '../../workers/cpu.js', import.meta.url).href;
}

/** Run one long task per CPU on `cpus` worker threads and collect their results. */
export async function runOnWorkers(cpus: number, task: CpuTask): Promise<CpuResult[]> {
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: cpus,
    maxThreads: cpus,
    idleTimeout: 60_000,
    workerData: { entry: './cpu.ts' },
  });
  try {
    const results = await Promise.all(Array.from({ length: cpus }, () => pool.run(task) as Promise<CpuResult>));
    return results.sort((a, b) => a.cpu - b.cpu);
  } finally {
    await pool.destroy();
  }
}
