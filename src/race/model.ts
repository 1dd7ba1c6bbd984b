// The public API for exploring a concurrent algorithm on slabsim's machine: a model
// sets up shared state in simulated memory, gives each CPU a program written with the
// shared-memory primitives of src/shm/atomic.ts (every access a schedule point), and
// says what must hold. docs/explore.md has a worked example (a Treiber stack).
import type { Profile } from '../config.js';
import type { Cpu } from '../mm/cpu.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';

/** One instance of a model, built fresh for every run. */
export interface Instance {
  /** the program of CPU i (a generator: `yield* load32(...)`, `yield* cas64(...)`, ...) */
  thread(cpu: Cpu): Step<unknown>;
  /** checked after every step: a violated invariant, or null. Keep it cheap. */
  stepCheck?(): string | null;
  /** checked when every thread has finished: the violated invariants */
  finalCheck(): string[];
  /** the final state in a few words (the table of distinct outcomes) */
  outcome(): string;
  /** the nested operation an interrupt runs on `cpu`, if the model has interrupts */
  irq?(cpu: Cpu): Step<unknown>;
}

export interface Model {
  name: string;
  /** one line: what races against what */
  doc: string;
  cpus: number;
  /** simulated memory for one run (default 256 KiB) */
  memory?: number;
  /** NUMA nodes (default 1) */
  nodes?: number;
  /** the profiles the model applies to (default: all); others are left out of an exploration */
  profiles?: readonly Profile[];
  /** chance of an interrupt at each interruption point */
  irqRate?: number;
  /** which mutants this model can expose (for `slabsim list`); empty for none */
  mutants?: readonly string[];
  /** broken by design (a model shown failing): explored only when named, never by `all` */
  broken?: boolean;
  /** Set up a fresh machine (free-running code: nothing runs concurrently yet). */
  create(m: Machine, cpus: Cpu[], profile: Profile): Instance;
}

/** Whether a model applies to a profile (a sheaf scenario on 5.4 does not). */
export const appliesTo = (model: Model, profile: Profile): boolean => model.profiles?.includes(profile) ?? true;
