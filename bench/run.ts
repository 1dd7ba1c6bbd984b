// npm run bench: every measurement as a ratio to the calibration loop of the same run.
import { allocPages as allocPagesSched, freePages as freePagesSched } from '../src/mm/page_alloc.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import type { Step } from '../src/sched/step.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { create } from '../src/shm/machine.js';
import { pagesWorkload } from '../src/workload/pages.js';
import { type BenchCase, pairedRatio, printRows, runBench, saveResults } from './harness.js';
import { againstPools, scaling, slubCases } from './slub.js';
import { raceSteps } from './race.js';
import { THREADTEST_CACHE, THREADTEST_KMALLOC, THREADTEST_KMALLOC_128, threadtestCases } from './workload.js';
import { tuneV8ForWorkloads, WORKLOAD_V8_FLAGS } from '../src/workload/v8_flags.js';

const BATCH = 1000;

/** Drive a generator to its end on one CPU: the scheduler's cost without a strategy. */
function drain<T>(g: Step<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

function pageCases(): BenchCase[] {
  const m = create({ cpus: 1, memory: 16 << 20 });
  return [
    {
      name: 'page alloc+free, order 0, free-running',
      unit: 'alloc+free',
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) freePages(m, allocPages(m, 0, 0, 0), 0);
      },
    },
    {
      name: 'page alloc+free, order 0, same code as generators',
      unit: 'alloc+free',
      form: 'scheduled',
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) drain(freePagesSched(m, drain(allocPagesSched(m, 0, 0, 0)), 0));
      },
    },
  ];
}

/** Scheduler steps per second: 2 CPUs doing page operations under the random strategy. */
function scheduledStepsCase(): BenchCase & { stepsPerCall: number } {
  const run = () => {
    const m = create({ cpus: 2, memory: 1 << 20 });
    const programs = [0, 1].map((cpu) => pagesWorkload(m, cpu, { ops: 200, maxOrder: 2, maxHeld: 16 }, new Rng(1, cpu)));
    return runScheduled(programs, new RandomStrategy(1)).steps;
  };
  const stepsPerCall = run();
  return { name: 'scheduler: 2-CPU pages scenario', unit: 'step', batch: stepsPerCall, fn: run, stepsPerCall, form: 'scheduled' };
}

const title = `slabsim bench (node ${process.version}, ${new Date().toISOString()})`;
const threadtest = threadtestCases();
const cases = [...slubCases(), ...threadtest, ...pageCases(), scheduledStepsCase()];
// Two phases, each with its own calibration: V8 flags are per process and read when code
// is optimized, so the generator rows and race run first with V8's defaults (as `race`
// runs), then the free-running rows and the worker runs with the workloads' flags (as
// `run` and `compare` run).
const scheduledTitle = `${title}: generator form, V8 defaults`;
const scheduledRows = await runBench(
  scheduledTitle,
  cases.filter((c) => c.form === 'scheduled'),
);
const race = raceSteps();
tuneV8ForWorkloads();
const freeTitle = `${title}: free-running, ${WORKLOAD_V8_FLAGS}`;
const freeRows = await runBench(
  freeTitle,
  cases.filter((c) => c.form !== 'scheduled'),
);
for (const c of threadtest) c.check();
printRows(scheduledTitle, scheduledRows);
printRows(freeTitle, freeRows);
const rows = [...freeRows, ...scheduledRows.slice(1)];
// The same code free-running and as generators driven to completion, page allocator and SLUB.
const ratio = (slow?: { ns_per_op: number }, quick?: { ns_per_op: number }): number | null =>
  slow && quick ? Math.round((slow.ns_per_op / quick.ns_per_op) * 100) / 100 : null;
const pageFree = rows.find((r) => r.name === 'page alloc+free, order 0, free-running');
const pageGen = rows.find((r) => r.name === 'page alloc+free, order 0, same code as generators');
const slubGen = rows.find((r) => r.name === 'slub fast path, same code as generators');
const steps = rows.find((r) => r.name.startsWith('scheduler'));
const fast = rows.find((r) => r.name === 'slub fast path: alloc + do_slab_free');
/** A per-operation row over SLUB's fast path per operation (its alloc+free pair halved), paired by round. */
const overFastPathOp = (name: string): number | null => {
  const row = freeRows.find((r) => r.name === name);
  return row && fast ? Math.round(pairedRatio(row, fast) * 2 * 100) / 100 : null;
};
const scale = await scaling();
const pools = await againstPools();
const summary = {
  slub_fast_path_x_calibration: fast?.ratio_to_calibration ?? null,
  threadtest_cache_op_x_fast_path_op: overFastPathOp(THREADTEST_CACHE),
  threadtest_kmalloc_op_x_fast_path_op: overFastPathOp(THREADTEST_KMALLOC),
  threadtest_kmalloc_128_op_x_fast_path_op: overFastPathOp(THREADTEST_KMALLOC_128),
  generator_cost_over_free_pages: ratio(pageGen, pageFree),
  generator_cost_over_free_slub: ratio(slubGen, fast),
  scheduler_steps_per_sec: steps?.ops_per_sec ?? null,
  threadtest_ops_per_sec_1cpu: scale.one,
  threadtest_ops_per_sec_2cpu: scale.two,
  scaling_2cpu_over_1cpu: scale.ratio,
  scaling_2cpu_over_1cpu_pairs: scale.ratios,
  race_2cpu_scheduler_steps_per_sec: race.schedStepsPerSec,
  race_2cpu_steps_per_sec_with_setup: race.stepsPerSec,
  threadtest_2cpu_ops_per_sec: pools,
};
console.log(summary);
saveResults('latest.json', {
  title,
  node: process.version,
  v8_flags: { free_running: WORKLOAD_V8_FLAGS, scheduled: 'defaults' },
  rows: freeRows,
  scheduled_rows: scheduledRows,
  summary,
});
