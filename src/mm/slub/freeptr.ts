/* @two-way */
// The free pointer inside a free object, at s->offset. slub.c: get_freepointer(),
// set_freepointer(). A schedule point each: a CPU may read a pointer another CPU is
// about to overwrite (the race the tid and the slab CAS exist for).
import type { Step } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { addrWord } from '../../shm/machine.js';
import type { KmemCache } from './kmem_cache.js';
import { freelistPtr } from './objects.js';

export function* getFreepointer(s: KmemCache, object: number, site: number): Step<number> {
  const at = object + s.offset;
  const stored = yield* load32(s.m, addrWord(s.m, at), site);
  return freelistPtr(s, stored, at);
}

export function* setFreepointer(s: KmemCache, object: number, fp: number, site: number): Step {
  const at = object + s.offset;
  yield* store32(s.m, addrWord(s.m, at), freelistPtr(s, fp, at), site);
}
