/* @two-way */
// slabsim's public API (`import ... from 'slabsim'`): what a person writing a model of
// their own lock-free algorithm needs, the explorer, and the built-in models to combine
// with their code. Re-exports only. This module is two-way: its fast twin (index.fast.ts,
// generated) exports the same names with the free-running forms of the two-way code,
// which is what `slabsim stress` loads a model against.

// Models
export { checkModel, defineModel, violated } from './race/model.js';
export type { Instance, Model, ModelSpec } from './race/model.js';
export { ModelError, RaceViolation, SlabError } from './errors.js';
export type { MachineConfig, Profile } from './config.js';
export type { ErrorCode, SlabErrorReport } from './errors.js';
export { ERROR_CODES } from './errors.js';
export type { Rng } from './rng.js';
export type { Shard } from './race/shard.js';
export type { SlubOptions } from './mm/slub/slub_options.js';
export type { ValidateResult } from './mm/slub/validate.js';
export { PROFILES } from './config.js';

// The machine and its CPUs
export type { Machine } from './shm/machine.js';
export type { Cpu } from './mm/cpu.js';
export { alloc, word } from './race/memory.js';

// Schedule points and the shared-memory primitives (each access is a schedule point)
export type { Step } from './sched/step.js';
export { site } from './sched/step.js';
export {
  add32,
  add32Acquire,
  add32Relaxed,
  add32Release,
  atomicLoad32,
  atomicStore32,
  cas32,
  cas32Acquire,
  cas32Relaxed,
  cas32Release,
  cas64,
  cas64Acquire,
  cas64Relaxed,
  cas64Release,
  cmpxchg32,
  cmpxchg32Acquire,
  cmpxchg32Relaxed,
  cmpxchg32Release,
  cpuRelax,
  fence,
  load32,
  loadAcquire32,
  loadDep32,
  spinLock,
  spinTrylock,
  spinUnlock,
  store32,
  storeRelease32,
  waitWhile,
  waitWhileAcquire,
  xchg32,
  xchg32Acquire,
  xchg32Relaxed,
  xchg32Release,
} from './shm/atomic.js';
export type { FenceKind } from './shm/atomic.js';

// Memory modes
export { MEMORY_MODELS } from './sched/memory_model.js';
export type { MemoryModel } from './sched/memory_model.js';
export { setPlainAccessCheck } from './sched/plain_check.js';
export type { PlainAccessCheck } from './sched/plain_check.js';
export type { BufferedStore } from './sched/weak.js';

// Exploring and replaying
export { explore, replay } from './race/api.js';
export type { ExploreSettings, ReplayResult, ReplaySettings } from './race/api.js';
export type { DporModelReport, ExploreReport, Failure, ModelReport, StrategyName } from './race/explore.js';
export type { DporAlgorithm } from './sched/dpor/search.js';
export { DPOR_ALGORITHMS } from './sched/dpor/search.js';
export { STRATEGIES } from './race/explore.js';
export type { Access, TraceStep } from './sched/scheduler.js';

// Built-in models and code to combine with one's own
export { builtInModel, builtInModels } from './race/catalogue.js';
export { pop as treiberPop, push as treiberPush } from './examples/treiber.js';
export { allocPages, freePages } from './mm/page_alloc.js';
export { slubInit, kmemCacheCreate } from './mm/slub/cache.js';
export type { CacheOptions } from './mm/slub/cache.js';
export { cacheById } from './mm/slub/kmem_cache.js';
export type { KmemCache } from './mm/slub/kmem_cache.js';
export { slabAllocNode } from './mm/slub/alloc.js';
export { kmemCacheFree } from './mm/slub/free.js';
export { kfree, kmalloc } from './mm/slub/kmalloc.js';
export { validateCache } from './mm/slub/validate.js';
