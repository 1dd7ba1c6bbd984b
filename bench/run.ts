// npm run bench: every measurement as a ratio to the calibration loop of the same run.
import { allocPages as allocPagesSched, freePages as freePagesSched } from '../src/mm/page_alloc.sched.js';
import { allocPages, freePages } from '../src/mm/page_alloc.fast.js';
import { Rng } from '../src/rng.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { thisCpu } from '../src/sched/this_cpu.js';
import type { Step } from '../src/sched/step.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { create } from '../src/shm/machine.js';
import { pagesWorkload } from '../src/workload/pages.sched.js';
import { tuneV8ForWorkloads, WORKLOAD_V8_FLAGS } from '../src/workload/v8_flags.js';
import { type BenchCase, type BenchRow, pairedRatio, printRows, runBench, saveResults } from './harness.js';
import { againstPools, scaling, slubCases } from './slub.js';
import { raceSpeed, ringRaceSpeed } from './race.js';
import { traceReplaySpeed } from './trace.js';
import { weakRaceSpeed } from './weak.js';
import { dporExhaustion } from './dpor.js';
import { THREADTEST_CACHE, THREADTEST_KMALLOC, THREADTEST_KMALLOC_128, threadtestCases } from './workload.js';

const BATCH = 1000;

/** Drive a generator to its end on one CPU: the scheduler's cost without a strategy. */
function drain<T>(g: Step<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * Order-0 alloc+free run as CPU 0, so through its per-CPU lists: after the first refill
 * every allocation is a hit. On the default 64 MiB: a zone under 4096 pages (16 MiB)
 * gets batch 0 in 5.4, so high 0 and every free goes straight back to the zone.
 */
function pcpCase(profile: '5.4' | '6.6', lock: string): BenchCase {
  const m = create({ cpus: 1, memory: 64 << 20, profile });
  return {
    name: `page alloc+free, order 0, pcp lists (${profile}: ${lock})`,
    unit: 'alloc+free',
    batch: BATCH,
    fn: () => {
      thisCpu.id = 0;
      for (let i = 0; i < BATCH; i++) freePages(m, allocPages(m, 0, 0, 0), 0);
      thisCpu.id = -1;
    },
  };
}

function pageCases(): BenchCase[] {
  // Run from the main thread, which is no CPU: every page goes through the zone.
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
    pcpCase('5.4', 'irq-off'),
    pcpCase('6.6', 'pcp->lock'),
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
const race = raceSpeed();
const ring = await ringRaceSpeed();
const weak = weakRaceSpeed();
const dpor = dporExhaustion();
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
// The same code free-running and as generators driven to completion, page allocator and
// SLUB. The two forms are measured in different phases, a minute or more apart: each is
// read against its own phase's calibration (paired by round) and the ratio is of those,
// so that the machine's drift between the phases does not enter it; the unpaired ratio
// of the two ns/op (what the summary gave before issue 20) is kept beside it.
const ratio = (slow?: { ns_per_op: number }, quick?: { ns_per_op: number }): number | null =>
  slow && quick ? Math.round((slow.ns_per_op / quick.ns_per_op) * 100) / 100 : null;
const overCalibration = (slow?: BenchRow, quick?: BenchRow): number | null =>
  slow && quick ? Math.round((slow.ratio_to_calibration / quick.ratio_to_calibration) * 100) / 100 : null;
const pageFree = rows.find((r) => r.name === 'page alloc+free, order 0, free-running');
const pageGen = rows.find((r) => r.name === 'page alloc+free, order 0, same code as generators');
const slubGen = rows.find((r) => r.name === 'slub fast path, same code as generators');
const steps = rows.find((r) => r.name.startsWith('scheduler'));
const fast = freeRows.find((r) => r.name === 'slub fast path: alloc + do_slab_free');
/** A per-operation row over SLUB's fast path per operation (its alloc+free pair halved), paired by round. */
const overFastPathOp = (name: string): number | null => {
  const row = freeRows.find((r) => r.name === name);
  return row && fast ? Math.round(pairedRatio(row, fast) * 2 * 100) / 100 : null;
};
const scale = await scaling();
const pools = await againstPools();
const trace = await traceReplaySpeed();
const pcpRatio = (profile: string) =>
  rows.find((r) => r.name.startsWith(`page alloc+free, order 0, pcp lists (${profile}`))?.ratio_to_calibration ?? null;
const summary = {
  slub_fast_path_x_calibration: fast?.ratio_to_calibration ?? null,
  threadtest_cache_op_x_fast_path_op: overFastPathOp(THREADTEST_CACHE),
  threadtest_kmalloc_op_x_fast_path_op: overFastPathOp(THREADTEST_KMALLOC),
  threadtest_kmalloc_128_op_x_fast_path_op: overFastPathOp(THREADTEST_KMALLOC_128),
  page_zone_x_calibration: pageFree?.ratio_to_calibration ?? null,
  page_pcp_5_4_x_calibration: pcpRatio('5.4'),
  page_pcp_6_6_x_calibration: pcpRatio('6.6'),
  generator_cost_over_free_pages: overCalibration(pageGen, pageFree),
  generator_cost_over_free_slub: overCalibration(slubGen, fast),
  generator_cost_over_free_pages_unpaired: ratio(pageGen, pageFree),
  generator_cost_over_free_slub_unpaired: ratio(slubGen, fast),
  scheduler_steps_per_sec: steps?.ops_per_sec ?? null,
  threadtest_ops_per_sec_1cpu: scale.one,
  threadtest_ops_per_sec_2cpu: scale.two,
  scaling_2cpu_over_1cpu: scale.ratio,
  scaling_2cpu_over_1cpu_pairs: scale.ratios,
  // race --scenario all --runs 2000 on one thread (#13: >= 10^6 with setup, >= 2x10^6 scheduler alone)
  race_all_steps_per_sec_with_setup: race.stepsPerSec,
  race_all_scheduler_steps_per_sec: race.schedStepsPerSec,
  race_all_steps_per_cpu_sec: race.stepsPerCpuSec,
  // the share of a run's time spent in its steps: whole-run over in-scheduler (#20: >= 0.75)
  race_all_whole_run_over_in_scheduler: race.wholeOverScheduler,
  // the docs' ring model (test/fixtures/ring.model.ts, 2 producers and 2 consumers), the same rates
  ring_steps_per_sec_with_setup: ring.stepsPerSec,
  ring_scheduler_steps_per_sec: ring.schedStepsPerSec,
  ring_runs_per_sec: ring.runsPerSec,
  ring_whole_run_over_in_scheduler: ring.wholeOverScheduler,
  // race --scenario all under arm over sc, same process and rounds (#18: >= 0.5)
  race_all_arm_over_sc_steps_per_sec: weak.armOverScStepsPerSec,
  race_all_arm_over_sc_scheduler_steps_per_sec: weak.armOverScSchedStepsPerSec,
  race_all_arm_over_sc_runs_per_sec: weak.armOverScRunsPerSec,
  threadtest_2cpu_ops_per_sec: pools,
  // executions to exhaust: dpor with no bound beside dfs within 2 preemptions (#19; 60 s cap each)
  dpor_exhaustion: dpor,
  // slabsim trace on a 10M-event generated trace, against run on the same profile (bench/trace.ts)
  trace_replay: trace,
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
