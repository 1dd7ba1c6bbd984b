// A stress CPU: one long piscina task per simulated CPU. It attaches to the machine,
// takes its CPU id from the counter in the buffer, waits at the start barrier, runs its
// program in free-running form (no per-operation messages) and reports counts.
import { lockCounts } from '../src/mm/slub/lock_counts.js';
import { thisCpu } from '../src/sched/this_cpu.js';
import { contention } from '../src/shm/atomic.fast.js';
import { arriveAndWait, attach, cpuNode, takeCpuId } from '../src/shm/machine.js';
import { cpuProgram } from '../src/workload/program.fast.js';
import type { CpuResult, CpuTask } from '../src/workload/task.js';

export default function runCpu(task: CpuTask): CpuResult {
  const m = attach(task.sab);
  const cpu = takeCpuId(m);
  if (cpu >= m.cfg.cpus) throw new Error(`CPU id ${cpu} taken but the machine has ${m.cfg.cpus} CPUs`);
  arriveAndWait(m, m.cfg.cpus);
  contention.casFails = 0;
  contention.lockWaits = 0;
  contention.casOps = 0;
  lockCounts.listLock = 0;
  lockCounts.barnLock = 0;
  const t0 = performance.now();
  thisCpu.id = cpu;
  let counts: ReturnType<typeof cpuProgram>;
  try {
    counts = cpuProgram(m, cpu, task, new Uint8Array(task.ledger));
  } finally {
    thisCpu.id = -1;
  }
  const elapsedMs = performance.now() - t0;
  return {
    ...counts,
    node: cpuNode(m, cpu),
    elapsedMs,
    casFails: contention.casFails,
    lockWaits: contention.lockWaits,
    casOps: contention.casOps,
    listLocks: lockCounts.listLock,
    barnLocks: lockCounts.barnLock,
  };
}
