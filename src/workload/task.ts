import type { CpuCounts, PagesParams } from './pages.js';

/** What the main thread hands each CPU worker: one message at the start, no more. */
export interface CpuTask {
  sab: SharedArrayBuffer;
  workload: 'pages';
  /** total operations of all CPUs together */
  ops: number;
  seed: number;
  pages: Omit<PagesParams, 'ops'>;
}

export interface CpuResult extends CpuCounts {
  node: number;
  elapsedMs: number;
}
