// A SLUB scenario as a model: its cache, ledger and checks around its programs.
import { PROFILES, type Profile } from '../config.js';
import { kmemCacheCreate, leakedObjects, liveCacheIds, slubInit } from '../mm/slub/cache.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import { auditCache } from '../mm/slub/validate.js';
import { countsInBoundsAt } from '../mm/slub/walk.js';
import type { Model } from './model.js';
import { Holders, type Scenario, type ScenarioWorld } from './scenario.js';

/** What a scenario's set-up leaves besides the machine: its cache, the objects set aside, the ledger. */
interface Prepared {
  id: number;
  objs: Record<string, number[]>;
  held: Holders;
}

export function slubModel(sc: Scenario): Model {
  return {
    name: sc.name,
    doc: sc.doc,
    cpus: sc.cpus,
    irqRate: sc.irqRate,
    nodes: sc.nodes,
    memory: sc.memory,
    profiles: sc.profiles ?? PROFILES,
    mutants: sc.mutants ?? [
      'no-tid',
      'split-slab-cas',
      'unlocked-partial',
      'ignore-frozen',
      'plain-unfreeze',
      'relaxed-slab-free',
    ],
    // The cache and the scenario's starting state are the same for every run: made once.
    prepare(m, cpus, profile: Profile): Prepared {
      // Sheaves are kmalloc'd: a cache with them needs the kmalloc caches (7.0: all do).
      if (sc.sheafCapacity !== undefined || profile === '7.0') slubInit(m);
      const id = kmemCacheCreate(m, 'race', sc.size, { flags: ['no_merge'], sheafCapacity: sc.sheafCapacity });
      const w: ScenarioWorld = { m, s: cacheById(m, id), cpus, objs: {}, held: new Holders(), violations: [] };
      sc.setup(w, profile);
      // The views of every cache, made now, are kept with the machine's image: the final
      // check looks at every cache's sheaves, and a view made during a run is dropped
      // with the run (restore() puts back the views of the image).
      for (const c of liveCacheIds(m)) cacheById(m, c);
      return { id, objs: w.objs, held: w.held };
    },
    create(m, cpus, _profile, prepared) {
      const p = prepared as Prepared;
      const s = cacheById(m, p.id);
      const objs: Record<string, number[]> = {};
      for (const k of Object.keys(p.objs)) objs[k] = p.objs[k].slice();
      // Every run shares the prepared ledger: first take back what the last run changed.
      p.held.undoRun();
      const w: ScenarioWorld = { m, s, cpus, objs, held: p.held, violations: [] };
      return {
        thread: (cpu) => sc.program(w, cpu.id),
        irq: sc.irq ? (cpu) => (sc.irq as NonNullable<Scenario['irq']>)(w, cpu) : undefined,
        stepCheck: (written) => w.violations[0] ?? countsInBoundsAt(s, written),
        finalCheck: () => {
          const audit = auditCache(s);
          return [...w.violations, ...audit.messages, ...ledgerCheck(w, leakedObjects(s, audit.records))];
        },
        outcome: () => sc.outcome(w),
      };
    },
  };
}

/** The objects the allocator counts as allocated are exactly those somebody holds. */
function ledgerCheck(w: ScenarioWorld, allocatedNow: number[]): string[] {
  const allocated = new Set(allocatedNow);
  let heldCount = 0;
  let phantom = 0;
  for (const [o, h] of w.held.entries()) {
    if (h === 0) continue;
    heldCount++;
    if (!allocated.has(o)) phantom++;
  }
  // every object held and allocated is counted once in each: the rest of `allocated` is lost
  const lost = allocated.size - (heldCount - phantom);
  const out: string[] = [];
  if (lost) out.push(`ledger: ${lost} objects allocated but held by nobody (lost)`);
  if (phantom) out.push(`ledger: ${phantom} objects held but free in the allocator`);
  return out;
}
