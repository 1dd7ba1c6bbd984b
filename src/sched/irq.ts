// Same-CPU interruption points, scheduled form (twin: irq.fast.ts). At such a point an
// "interrupt" may run a nested operation on the same CPU, as a hardware irq would in
// the kernel between reading c->tid and the cmpxchg: that is what the tid catches.
import type { Cpu } from '../mm/cpu.js';
import type { Step } from './step.js';

export function* irqPoint(cpu: Cpu, site: number): Step {
  yield site;
  if (cpu.irqRate === 0 || cpu.irqDepth > 0 || cpu.irq === null || cpu.irqRng.float() >= cpu.irqRate) return;
  cpu.irqDepth++;
  try {
    yield* cpu.irq(cpu) as Step<unknown>;
  } finally {
    cpu.irqDepth--;
  }
}
