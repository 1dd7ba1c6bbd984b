// Same-CPU interruption points, free-running form (twin of irq.ts): one compare when off.
import type { Cpu } from '../mm/cpu.js';

export function irqPoint(cpu: Cpu, _site: number): void {
  if (cpu.irqRate !== 0) maybeInterrupt(cpu);
}

/** Kept out of irqPoint so that the check on the fast path stays small enough to inline. */
function maybeInterrupt(cpu: Cpu): void {
  if (cpu.irqDepth > 0 || cpu.irq === null || cpu.irqRng.float() >= cpu.irqRate) return;
  cpu.irqDepth++;
  try {
    cpu.irq(cpu);
  } finally {
    cpu.irqDepth--;
  }
}
