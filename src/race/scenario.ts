// A race scenario: a small machine set up in a known state, one short program per CPU
// written against the real SLUB code (generator form), and what to check at the end.
import type { Profile } from '../config.js';
import type { Cpu } from '../mm/cpu.js';
import type { KmemCache } from '../mm/slub/kmem_cache.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';

export interface ScenarioWorld {
  m: Machine;
  s: KmemCache;
  cpus: Cpu[];
  /** objects set aside by setup for the programs, by name */
  objs: Record<string, number[]>;
  /** the ledger: who holds each object; stamped on receipt, cleared on free */
  held: Holders;
  /** violations noticed while the programs ran (double issue, bad free) */
  violations: string[];
}

export interface Scenario {
  name: string;
  /** one line: what races against what */
  doc: string;
  cpus: number;
  /** cache object size and flags for the scenario's cache */
  size: number;
  /** chance of an interrupt at each interruption point, for every CPU */
  irqRate?: number;
  /** the profiles it applies to (default: all) */
  profiles?: readonly Profile[];
  /** NUMA nodes and simulated memory of its machine (defaults: 1 node, 256 KiB) */
  nodes?: number;
  memory?: number;
  /** kmem_cache_args.sheaf_capacity of its cache (the machine then gets the kmalloc caches, which hold sheaves) */
  sheafCapacity?: number;
  /** the mutants it is written to expose (default: the six cpu-slab ones) */
  mutants?: readonly string[];
  /** bring the machine into the starting state (free-running code, before any program runs) */
  setup(w: ScenarioWorld, profile: Profile): void;
  /** the program of CPU i */
  program(w: ScenarioWorld, cpu: number): Step<unknown>;
  /** an interrupt's nested operation on CPU i, if the scenario has interrupts */
  irq?(w: ScenarioWorld, cpu: Cpu): Step<unknown>;
  /** a short description of the final state, for the table of distinct outcomes */
  outcome(w: ScenarioWorld): string;
}

/**
 * The ledger of a scenario: object address -> holder CPU + 1 (0: free). Setup fills it
 * once; every run starts from setup's ledger through undoRun(), which takes back what the
 * last run changed (a handful of objects) instead of copying the whole ledger. Taken
 * back in reverse, an object a run added is deleted again, so the iteration order (the
 * order in which freeHeld() frees, and with it the schedule) is setup's in every run.
 */
export class Holders {
  private readonly holders = new Map<number, number>();
  /** object, holder before, object, holder before, ... (undefined: it was not in the ledger) */
  private readonly changes: Array<number | undefined> = [];
  private noting = false;

  get(obj: number): number {
    return this.holders.get(obj) ?? 0;
  }

  set(obj: number, holder: number): void {
    if (this.noting) this.changes.push(obj, this.holders.get(obj));
    this.holders.set(obj, holder);
  }

  /** Every object with its holder (0: free), in the order each was first stamped. */
  entries(): IterableIterator<[number, number]> {
    return this.holders.entries();
  }

  /** Back to the ledger as it was before the last run, then note this run's changes. */
  undoRun(): void {
    const c = this.changes;
    for (let i = c.length - 2; i >= 0; i -= 2) {
      const before = c[i + 1];
      if (before === undefined) this.holders.delete(c[i] as number);
      else this.holders.set(c[i] as number, before);
    }
    c.length = 0;
    this.noting = true;
  }
}
