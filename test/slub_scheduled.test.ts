import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { decodeSchedule, encodeSchedule } from '../src/sched/schedule.js';
import type { Strategy } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import type { RunOptions } from '../src/workload/run.js';
import type { WorkloadName } from '../src/workload/task.js';
import { digest } from './helpers.js';
import { runScheduledReport } from './scheduled_run.js';

const options = (workload: WorkloadName, profile: Profile, seed: number): RunOptions => ({
  workload,
  machine: { cpus: 3, profile, memory: 8 << 20 },
  ops: 2000,
  seed,
  irqRate: 0.05,
  flushEvery: 100,
  slots: 16,
  batch: 8,
});

function run(opts: RunOptions, strategy: Strategy) {
  const r = runScheduledReport(opts, strategy);
  return { ...r, state: digest(r.prep.m) };
}

const stat = (r: ReturnType<typeof run>['report'], item: 'cpuslab_flush' | 'cmpxchg_double_cpu_fail' | 'free_frozen') =>
  r.caches.reduce((s, c) => s + (c.stats[item]?.total ?? 0), 0);

describe.each(['5.4', '6.6'] as Profile[])('SLUB under the scheduler, profile %s', (profile) => {
  it.each(['threadtest', 'xmalloc', 'larson'] as WorkloadName[])(
    '%s: interleaved at every shared access, 5 seeds clean',
    (workload) => {
      let flushes = 0;
      for (let seed = 1; seed <= 5; seed++) {
        const { report } = run(options(workload, profile, seed), new RandomStrategy(seed));
        expect(report.checks.messages).toEqual([]);
        expect(report.pages.total - report.pages.free).toBe(report.pages.slab);
        flushes += stat(report, 'cpuslab_flush');
      }
      expect(flushes).toBeGreaterThan(0); // flush_all requests were carried out by their CPUs
    },
  );

  it('interrupts between the tid read and the CAS make the CAS fail (cmpxchg_double_cpu_fail)', () => {
    let fails = 0;
    for (let seed = 1; seed <= 5 && fails === 0; seed++)
      fails += stat(run(options('xmalloc', profile, seed), new RandomStrategy(seed)).report, 'cmpxchg_double_cpu_fail');
    expect(fails).toBeGreaterThan(0);
  });

  it('the same seed gives the same interleaving and state; the schedule replays bit for bit', () => {
    const a = run(options('xmalloc', profile, 7), new RandomStrategy(7));
    const b = run(options('xmalloc', profile, 7), new RandomStrategy(7));
    expect(b.result.choices).toEqual(a.result.choices);
    expect(b.state).toBe(a.state);
    const schedule = encodeSchedule(3, a.result.choices);
    const replay = new ReplayStrategy(decodeSchedule(schedule).choices);
    const c = run(options('xmalloc', profile, 7), replay);
    expect(replay.finished).toBe(true);
    expect(c.state).toBe(a.state);
    const d = run(options('xmalloc', profile, 7), new RandomStrategy(8));
    expect(d.result.choices).not.toEqual(a.result.choices);
  });
});
