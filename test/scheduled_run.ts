// An object workload run under the scheduler, finished into its report: apart from
// test/helpers.ts, whose CLI helpers most files import without the workloads' modules.
import { expect } from 'vitest';
import type { Strategy } from '../src/sched/scheduler.js';
import type { ObjCounts } from '../src/workload/objects.js';
import { finishRun, type RunOptions, runWorkloadScheduled } from '../src/workload/run.js';

/** An object workload under the scheduler (at most 5M steps), finished into its report. */
export function runScheduledReport(opts: RunOptions, strategy: Strategy) {
  const { prep, result } = runWorkloadScheduled(opts, strategy, 5_000_000);
  expect(result.message).toBeUndefined();
  expect(result.outcome).toBe('ok');
  const counts = result.results as ObjCounts[];
  const report = finishRun(
    prep,
    opts,
    counts.map((c) => ({ ...c, node: 0, elapsedMs: 1 })),
    1,
  );
  return { prep, result, report };
}
