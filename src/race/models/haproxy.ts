// The HAProxy pool variants as race models: three CPUs pop two blocks, push them back,
// twice (the ABA pattern). The plain Treiber stack (haproxy-shared) is broken by design
// and the explorer shows how; the tagged stack and the per-CPU cache in front of it hold.
import { createPool, haPoolAt, poolRegistryCreate, validateHaPool } from '../../mm/pools/haproxy.fast.js';
import { poolAlloc as allocNow, poolFree as freeNow } from '../../mm/pools/haproxy.fast.js';
import { Ledger } from '../../mm/pools/ledger.js';
import { haproxyAbaWorkload } from '../../mm/pools/workload.sched.js';
import type { HaKindName } from '../../mm/pools/structs.js';
import type { Model } from '../model.js';

const BLOCKS = 4;
const ROUNDS = 2;

function haproxyModel(name: string, kind: HaKindName, doc: string, broken: boolean): Model {
  return {
    name,
    doc,
    cpus: 3,
    broken,
    mutants: kind === 'tagged' ? ['haproxy-put-no-barrier'] : undefined,
    // The pool and its blocks on the free list(s) are the same for every run: made once.
    prepare(m): number {
      const registry = poolRegistryCreate(m, 0);
      const created = createPool(m, registry, { name, size: 64, kind }, 0);
      if (!created) throw new Error(`${name}: no memory for the pool`);
      const p = haPoolAt(m, created.addr);
      // A few blocks on the free list(s), so that pops do not refill from pages.
      for (let cpu = 0; cpu < 3; cpu++) {
        const blocks = Array.from({ length: BLOCKS }, () => allocNow(p, cpu));
        for (const b of blocks) freeNow(p, cpu, b);
      }
      return created.addr;
    },
    create(m, _cpus, _profile, poolAddr) {
      const p = haPoolAt(m, poolAddr as number);
      const ledger = new Ledger();
      return {
        thread: (cpu) => haproxyAbaWorkload(p, cpu.id, ROUNDS, ledger),
        stepCheck: () => ledger.problems[0] ?? null,
        finalCheck: () => [...ledger.problems, ...validateHaPool(p).messages],
        outcome: () => `double issues ${ledger.doubleIssue}`,
      };
    },
  };
}

export const HAPROXY_MODELS: readonly Model[] = [
  haproxyModel('haproxy-shared', 'shared', 'HAProxy pool on a plain Treiber stack (one CAS word): ABA, broken by design', true),
  haproxyModel('haproxy-tagged', 'tagged', 'HAProxy pool on the tagged stack (pointer and tag in one 64-bit CAS)', false),
  haproxyModel('haproxy-percpu', 'cached', 'HAProxy pool: a per-CPU cache in front of the tagged shared stack', false),
];
