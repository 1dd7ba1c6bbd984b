import type { ObjCounts } from './objects.js';
import type { CpuCounts, PagesParams } from './pages.js';
import type { ObjectTarget } from './slab_ops.js';

export const OBJECT_WORKLOADS = [
  'threadtest',
  'xmalloc',
  'larson',
  'cache-scratch',
  'cache-thrash',
  'mstress',
  'rptest',
  'connections',
] as const;
export const WORKLOADS = ['pages', ...OBJECT_WORKLOADS] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** Harness memory the main thread set up in simulated memory, by address. */
export interface Harness {
  /** xmalloc, rptest: ring k is CPU k's inbox */
  rings: number[];
  /** cache-scratch: the hand-off slots; mstress: the transfer array */
  slots: number;
  /** larson: slot arrays, one per CPU, and the barrier word */
  arrays: number[];
  barrier: number;
}

/** What the main thread hands each CPU worker: one message at the start, no more. */
export interface CpuTask {
  sab: SharedArrayBuffer;
  ledger: SharedArrayBuffer;
  workload: WorkloadName;
  /** total operations of all CPUs together */
  ops: number;
  seed: number;
  irqRate: number;
  pages: Omit<PagesParams, 'ops'>;
  target: ObjectTarget;
  /** objects per batch (threadtest, xmalloc) */
  batch: number;
  /** larson: slots per array and epochs */
  slots: number;
  epochs: number;
  /** CPU 0 runs flush_all every this many operations (0: never) */
  flushEvery: number;
  /** cache-thrash/scratch: writes to each object before it is freed */
  writes: number;
  /** a --duration run: the stop word ends it, not the operation count */
  timed: boolean;
  harness: Harness;
}

export interface CpuResult
  extends CpuCounts, Partial<Pick<ObjCounts, 'badFree' | 'irqAllocs' | 'irqFrees' | 'sharedLines' | 'corrupt'>> {
  node: number;
  elapsedMs: number;
  /** failed CASes (retried) and lock acquisitions that waited, on this CPU (worker runs) */
  casFails?: number;
  lockWaits?: number;
  /** every CAS made, and list_lock and barn->lock acquisitions (worker runs) */
  casOps?: number;
  listLocks?: number;
  barnLocks?: number;
}
