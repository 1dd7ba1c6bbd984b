import { describe, expect, it } from 'vitest';
import { allocPages } from '../src/mm/page_alloc.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { decodeSchedule, encodeSchedule } from '../src/sched/schedule.js';
import { runScheduled } from '../src/sched/scheduler.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { ReplayStrategy } from '../src/sched/strategies/replay.js';
import { create } from '../src/shm/machine.js';
import { type CpuCounts, pagesWorkload } from '../src/workload/pages.js';
import { digest } from './helpers.js';

const CPUS = 3;
const params = { ops: 60, maxOrder: 3, maxHeld: 8 };

function runWith(strategy: RandomStrategy | ReplayStrategy, trace = false) {
  const m = create({ cpus: CPUS, memory: 1 << 20 });
  const programs = Array.from({ length: CPUS }, (_, cpu) => pagesWorkload(m, cpu, params, new Rng(7, cpu)));
  const r = runScheduled(programs, strategy, { trace });
  return { m, r, schedule: encodeSchedule(CPUS, r.choices), state: digest(m) };
}

describe('page operations of 3 CPUs under the scheduler', () => {
  it('the same seed gives the same interleaving and the same final state', () => {
    const a = runWith(new RandomStrategy(11), true);
    const b = runWith(new RandomStrategy(11), true);
    expect(a.r.outcome).toBe('ok');
    expect(a.r.choices.length).toBeGreaterThan(100);
    expect(b.schedule).toBe(a.schedule);
    expect(b.r.trace).toEqual(a.r.trace);
    expect(b.state).toBe(a.state);
  });

  it('different seeds give different interleavings', () => {
    const schedules = new Set([1, 2, 3, 4].map((s) => runWith(new RandomStrategy(s)).schedule));
    expect(schedules.size).toBe(4);
  });

  it('a recorded schedule replays exactly', () => {
    const a = runWith(new RandomStrategy(99), true);
    const { cpus, choices } = decodeSchedule(a.schedule);
    expect(cpus).toBe(CPUS);
    const replay = new ReplayStrategy(choices);
    const b = runWith(replay, true);
    expect(b.r.outcome).toBe('ok');
    expect(replay.finished).toBe(true);
    expect(b.r.trace).toEqual(a.r.trace);
    expect(b.state).toBe(a.state);
  });

  it('the CPUs really interleave inside the allocator, and finish clean', () => {
    const { m, r } = runWith(new RandomStrategy(5), true);
    const trace = r.trace ?? [];
    // CPU switches happen between lock attempts of different CPUs, not only at op boundaries.
    const switches = trace.filter((t, i) => i > 0 && t.cpu !== trace[i - 1].cpu).length;
    expect(switches).toBeGreaterThan(50);
    expect(trace.some((t) => t.site === 'rmqueue:zone->lock')).toBe(true);
    const counts = r.results as CpuCounts[];
    expect(counts.map((c) => c.ops)).toEqual([60, 60, 60]);
    expect(counts.every((c) => c.doubleIssue === 0)).toBe(true);
    expect(freePageCount(m)).toBe(m.pagesPerNode);
  });

  it('a CPU that finds the zone lock held blocks until it is released', () => {
    // The zone path (no per-CPU lists in front of it): test/pcp_race.test.ts has the pcp->lock.
    const m = create({ cpus: 2, memory: 1 << 20, pcp: false });
    // CPU 0 takes one page; CPU 1 is scheduled into the middle of CPU 0's critical section.
    const programs = [allocPages(m, 0, 0, 0), allocPages(m, 0, 0, 1)];
    // choices: CPU0 to its lock attempt, then into the section (lock taken), then CPU1 tries.
    const r = runScheduled(programs, new ReplayStrategy([0, 0, 0, 1, 1]), { trace: true });
    expect(r.outcome).toBe('ok');
    const trace = r.trace ?? [];
    const blockedAt = trace.findIndex((t) => t.cpu === 1 && t.blocked);
    expect(trace[blockedAt]?.site).toBe('rmqueue:zone->lock');
    // While CPU 1 is blocked only CPU 0 can move: no decision is recorded until it unlocks.
    expect(r.choices).toEqual([0, 0, 0, 1, 1].slice(0, r.choices.length));
    expect(new Set(r.results)).toEqual(new Set([1, 2]));
  });

  it('under memory pressure every CPU still ends holding nothing (regression: a late failed allocation)', () => {
    let failed = 0;
    for (let seed = 0; seed < 10; seed++) {
      const m = create({ cpus: 4, memory: 1 << 20 });
      const programs = [0, 1, 2, 3].map((cpu) =>
        pagesWorkload(m, cpu, { ops: 1000, maxOrder: 3, maxHeld: 64 }, new Rng(seed, cpu)),
      );
      const r = runScheduled(programs, new RandomStrategy(seed));
      expect(r.outcome).toBe('ok');
      const counts = r.results as CpuCounts[];
      failed += counts.reduce((sum, c) => sum + c.failed, 0);
      expect(counts.every((c) => c.allocs === c.frees && c.ops === 1000)).toBe(true);
      expect(freePageCount(m)).toBe(m.pagesPerNode);
    }
    expect(failed).toBeGreaterThan(0); // the pressure was real
  });
});
