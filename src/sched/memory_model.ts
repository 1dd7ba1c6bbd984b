// The memory modes of the explorer (docs/memory-models.md). `sc` applies every access to
// memory when its CPU moves, as the explorer always did; the others add store buffers
// (tso) and reads of older values (arm, js), each choice a step of the schedule.
import { SlabError } from '../errors.js';

/** The memory modes, weakest last but one: `js` is `arm` with only plain accesses and `Atomics`. */
export const MEMORY_MODELS = ['sc', 'tso', 'arm', 'js'] as const;

/**
 * `sc`: sequential consistency (the default). `tso`: x86-TSO, a FIFO store buffer per CPU.
 * `arm`: arm64 and the kernel's memory model (per-word store order, `smp_wmb` epochs, loads
 * of older values limited by views). `js`: the ECMAScript memory model's plain accesses on
 * a SharedArrayBuffer (as `arm`), and `Atomics` (sequentially consistent).
 */
export type MemoryModel = (typeof MEMORY_MODELS)[number];

export const isMemoryModel = (x: unknown): x is MemoryModel => MEMORY_MODELS.includes(x as MemoryModel);

/** `x` as a memory model, or a SlabError naming what was expected. */
export function memoryModelOf(x: unknown, what = 'memoryModel'): MemoryModel {
  if (!isMemoryModel(x)) throw new SlabError('EINVAL', `${what} must be one of ${MEMORY_MODELS.join(', ')}, got '${String(x)}'`);
  return x;
}
