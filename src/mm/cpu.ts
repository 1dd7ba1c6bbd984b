import type { Rng } from '../rng.js';
import { Rng as RngClass } from '../rng.js';
import { controlledIrqRate, cpuNode, cpuWorkWord, type Machine, pauseRequested, waitWhilePaused } from '../shm/machine.js';

/**
 * The simulated CPU an operation runs on: `raw_cpu_ptr()`'s answer. One per worker
 * thread (or per scheduled program); never shared between threads.
 */
export interface Cpu {
  /** the machine it runs on */
  readonly m: Machine;
  /** its number, 0 .. cpus-1 (smp_processor_id()) */
  readonly id: number;
  /** its NUMA node (numa_mem_id()) */
  readonly node: number;
  /** word offset of this CPU's count of pending work (flush requests), read at every safe point */
  readonly workWord: number;
  /** chance, at each interruption point, of running `irq` there (0: off) */
  irqRate: number;
  /** nested interruption depth: an interrupt is never interrupted */
  irqDepth: number;
  /** the nested operation an interrupt runs (a generator function under the scheduler) */
  irq: ((cpu: Cpu) => unknown) | null;
  /** interruption decisions: seeded apart from the workload's own stream */
  readonly irqRng: Rng;
  /** this CPU's other random choices inside the allocator (get_any_partial's get_cycles()) */
  readonly rng: Rng;
}

export function makeCpu(m: Machine, id: number, seed = 0, irqRate = 0): Cpu {
  return {
    m,
    id,
    node: cpuNode(m, id),
    workWord: cpuWorkWord(m, id),
    irqRate,
    irqDepth: 0,
    irq: null,
    irqRng: new RngClass(seed, 0x1000 + id),
    rng: new RngClass(seed, 0x2000 + id),
  };
}

/** The CPU as makeCpu() would make it, in place: for a run that reuses its CPUs. */
export function resetCpu(cpu: Cpu, seed: number, irqRate: number): void {
  cpu.irqRate = irqRate;
  cpu.irqDepth = 0;
  cpu.irq = null;
  cpu.irqRng.reseed(seed, 0x1000 + cpu.id);
  cpu.rng.reseed(seed, 0x2000 + cpu.id);
}

/**
 * Between two operations of a free-running CPU, every few thousand: wait while a
 * controller (the viewer's live mode) has paused the machine, and take up the interrupt
 * rate it set. Free-running form only: nothing pauses a scheduled run.
 */
export function controlPoint(cpu: Cpu): void {
  if (pauseRequested(cpu.m)) waitWhilePaused(cpu.m);
  const rate = controlledIrqRate(cpu.m);
  if (rate !== null) cpu.irqRate = rate;
}
