// V8's inlining budget for the free-running workloads. TurboFan inlines callees into an
// optimized function until their bytecode adds up to a budget (920 bytes by default);
// the fast paths and the workload loop around them are a chain of small functions
// (slab_alloc_node, do_slab_free, kmem_cache_free's checks, cmpxchg_double, the ledger)
// that together exceed it, so the default leaves calls on the hot path. A budget of 4000
// inlines the whole chain: measured (docs/performance.md) SLUB's alloc+free 1.85-2.5x
// -> 1.6x the calibration loop and threadtest's loop about 25% cheaper. The same budget
// makes the scheduler's generator code slower (race: about 0.4 -> 0.2M steps/s), so it
// is set for `run` and `compare` (and the bench's free-running rows), not for `race`.
// V8 flags are per process and read when a function is optimized: set them before the
// hot code runs; the CPU worker threads share them.
import { setFlagsFromString } from 'node:v8';

export const WORKLOAD_V8_FLAGS = '--max-inlined-bytecode-size-cumulative=4000';

let applied = false;

/** Set WORKLOAD_V8_FLAGS for this process (once). */
export function tuneV8ForWorkloads(): void {
  if (applied) return;
  setFlagsFromString(WORKLOAD_V8_FLAGS);
  applied = true;
}
