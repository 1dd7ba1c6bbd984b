// Same-CPU interruption points, scheduled form (twin: irq.fast.ts). At such a point an
// "interrupt" may run a nested operation on the same CPU, as a hardware irq would in
// the kernel between reading c->tid and the cmpxchg: that is what the tid catches.
import type { Cpu } from '../mm/cpu.js';
import type { Step } from './step.js';

export function* irqPoint(cpu: Cpu, site: number): Step {
  yield site;
  if (irqDue(cpu)) yield* irqRun(cpu);
}

/**
 * Does an interrupt arrive at this point (after its yield)? Draws from the CPU's irq
 * stream only when interrupts are on and none is running. The scheduled twins
 * (scripts/twoway.mjs) write irqPoint inline as its yield, this, and irqRun.
 */
export const irqDue = (cpu: Cpu): boolean =>
  !(cpu.irqRate === 0 || cpu.irqDepth > 0 || cpu.irq === null || cpu.irqRng.float() >= cpu.irqRate);

/** Run the CPU's interrupt handler, nested. */
export function* irqRun(cpu: Cpu): Step {
  cpu.irqDepth++;
  try {
    yield* (cpu.irq as (c: Cpu) => Step<unknown>)(cpu);
  } finally {
    cpu.irqDepth--;
  }
}
