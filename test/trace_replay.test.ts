// What a replay shows: a planted leak first in the leak table on every profile; frees on
// another CPU than the allocation taking SLUB's remote-free path (the cpu-slab profiles'
// __slab_free, the sheaf profiles' barn); what the trace gets wrong left out and listed by
// call site; the cut by --since/--until/--limit; CPUs folded; a machine too small.
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../src/config.js';
import { scanTrace } from '../src/trace/scan.js';
import { textSource } from '../src/trace/source.js';
import { LEAK_CALL_SITE, synthSource } from '../src/trace/synth.js';
import { type TraceReport, traceReplay } from '../src/trace/trace.js';

const line = (cpu: number, ts: string, body: string): string =>
  `  task-1    [${String(cpu).padStart(3, '0')}] ..... ${ts}: ${body}`;
const alloc = (cpu: number, ts: string, site: string, ptr: string, bytes = 64): string =>
  line(
    cpu,
    ts,
    `kmalloc: call_site=${site} ptr=${ptr} bytes_req=${bytes} bytes_alloc=${bytes} gfp_flags=GFP_KERNEL node=-1 accounted=false`,
  );
const kfree = (cpu: number, ts: string, site: string, ptr: string): string =>
  line(cpu, ts, `kfree: call_site=${site} ptr=${ptr}`);

describe('a planted leak', () => {
  it('is the first call site of the leak table, with its count and bytes, on every profile', async () => {
    // The trace ends with its workload's objects still live too: four other call sites hold some.
    const synth = { events: 12_000, cpus: 4, live: 400, leak: { count: 300 }, seed: 11, drain: false };
    const r = await traceReplay(synthSource(synth), { profiles: PROFILES });
    for (const p of r.profiles) {
      expect(p.checks.ok, p.checks.messages.join('; ')).toBe(true);
      expect(p.leaks[0], p.profile).toEqual({ call_site: LEAK_CALL_SITE, cache: 'kmalloc-1k', objects: 300, bytes: 300 * 1024 });
      // (one row per call site and cache: kmalloc's sites fill several caches)
      expect([...new Set(p.leaks.slice(1).map((l) => l.call_site))].sort()).toEqual([
        '__alloc_file+0x28/0x110',
        '__alloc_skb+0x8e/0x1d0',
        '__d_alloc+0x2b/0x1e0',
        'kstrdup+0x2d/0x60',
      ]);
      expect(p.leaks[1].bytes).toBeLessThan(p.leaks[0].bytes);
      expect(p.live_end).toBe(p.leaks.reduce((n, l) => n + l.objects, 0));
      expect(p.checks.live).toBe(p.live_end);
    }
    expect(r.problems).toEqual({
      free_unknown: { count: 0, by_call_site: [] },
      double_free: { count: 0, by_call_site: [] },
      alloc_live: { count: 0, by_call_site: [] },
    });
  });
});

describe('frees on another CPU than the allocation', () => {
  // CPU 0 allocates, CPU 1 frees (xmalloc's pattern), against the same workload with every
  // object freed by the CPU that allocated it.
  const trace = (handoff: boolean) => synthSource({ events: 20_000, cpus: 2, live: 300, seed: 5, crossCpu: 0, handoff });
  let remote: TraceReport;
  let local: TraceReport;
  const by = (r: TraceReport, profile: string) => r.profiles.find((p) => p.profile === profile) ?? r.profiles[0];

  it('are counted as cross-CPU frees', async () => {
    [remote, local] = [
      await traceReplay(trace(true), { profiles: PROFILES }),
      await traceReplay(trace(false), { profiles: PROFILES }),
    ];
    for (const p of remote.profiles) {
      expect(p.checks.ok).toBe(true);
      expect(p.cross_cpu_frees).toBe(p.frees);
    }
    for (const p of local.profiles) expect(p.cross_cpu_frees).toBe(0);
  });

  it("take __slab_free on 5.4 and 6.6: free_slowpath for each, free_frozen for those of the other CPU's cpu slab", () => {
    for (const profile of ['5.4', '6.6']) {
      const r = by(remote, profile);
      const l = by(local, profile);
      expect(r.stats.free_slowpath, profile).toBe(r.frees); // not one free finds its slab as this CPU's cpu slab
      expect(r.stats.free_fastpath).toBe(0);
      expect(r.stats.free_frozen ?? 0).toBeGreaterThan(0.5 * r.frees);
      expect(r.free_fast).toBe(0);
      // Freed by its own CPU, most objects find their slab as that CPU's cpu slab.
      expect(l.stats.free_slowpath ?? 0).toBeLessThan(0.5 * l.frees);
      expect(l.free_fast ?? 0).toBeGreaterThan(0.5);
    }
  });

  it('go through the sheaves and the barn on 6.18 and 7.0: full sheaves put by the freeing CPU, taken by the allocating one', () => {
    for (const profile of ['6.18', '7.0']) {
      const r = by(remote, profile);
      const l = by(local, profile);
      expect(r.stats.barn_put ?? 0, profile).toBeGreaterThan(50);
      expect(r.stats.barn_get ?? 0).toBeGreaterThan(50);
      // Freed by its own CPU, an object goes back to the sheaf it came from: the barn hardly sees one.
      expect(r.stats.barn_put ?? 0).toBeGreaterThan(20 * ((l.stats.barn_put ?? 0) + 1));
      expect(r.stats.barn_get ?? 0).toBeGreaterThan(20 * ((l.stats.barn_get ?? 0) + 1));
      expect(r.barn_locks_per_op).toBeGreaterThan(20 * l.barn_locks_per_op);
    }
  });
});

describe('what the trace itself gets wrong', () => {
  it('is left out and listed by call site: a free of the unknown, a double free, an allocation of a live pointer', async () => {
    const text = [
      kfree(0, '1.000001', 'predates+0x1/0x2', '00000000000000aa'),
      alloc(0, '1.000002', 'a_site+0x1/0x2', '00000000000000b0'),
      kfree(1, '1.000003', 'b_free+0x1/0x2', '00000000000000b0'),
      kfree(1, '1.000004', 'b_free+0x1/0x2', '00000000000000b0'), // double free
      alloc(0, '1.000005', 'c_site+0x1/0x2', '00000000000000c0'),
      alloc(1, '1.000006', 'd_site+0x1/0x2', '00000000000000c0'), // still live: its free is missing
      kfree(0, '1.000007', 'predates+0x1/0x2', '00000000000000ab'),
      kfree(0, '1.000008', 'c_free+0x1/0x2', '00000000000000c0'),
    ].join('\n');
    const r = await traceReplay(textSource('problems', text), { profiles: ['5.4', '7.0'] });
    expect(r.problems).toEqual({
      free_unknown: { count: 2, by_call_site: [{ call_site: 'predates+0x1/0x2', count: 2 }] },
      double_free: { count: 1, by_call_site: [{ call_site: 'b_free+0x1/0x2', count: 1 }] },
      alloc_live: { count: 1, by_call_site: [{ call_site: 'd_site+0x1/0x2', count: 1 }] },
    });
    for (const p of r.profiles) {
      expect(p.checks.ok).toBe(true);
      // The free of c0 frees the first allocation (c_site); d_site's was left out.
      expect([p.allocs, p.frees, p.left_out, p.live_end]).toEqual([2, 2, 4, 0]);
    }
  });
});

describe('cutting and folding', () => {
  const text = Array.from({ length: 20 }, (_, i) => [
    alloc(i % 8, `2.${String(i * 2).padStart(6, '0')}`, 'x+0x1/0x2', (0x100 + i).toString(16).padStart(16, '0')),
    kfree((i + 3) % 8, `2.${String(i * 2 + 1).padStart(6, '0')}`, 'y+0x1/0x2', (0x100 + i).toString(16).padStart(16, '0')),
  ]).flat();

  it('--since and --until take a window of the trace; --limit its first events', async () => {
    const src = textSource('cut', text.join('\n'));
    const w = await traceReplay(src, { profiles: ['6.6'], window: { since: 2.00001, until: 2.000029 } });
    // events 10..29: allocations 5..14 and their frees
    expect([w.events, w.skipped.outside_window, w.profiles[0].allocs, w.profiles[0].frees]).toEqual([20, 20, 10, 10]);
    const l = await traceReplay(src, { profiles: ['6.6'], window: { limit: 7 } });
    expect([l.events, l.profiles[0].allocs, l.profiles[0].frees, l.profiles[0].live_end]).toEqual([7, 4, 3, 1]);
    // Frees whose allocation is before --since are frees of the unknown.
    const late = await traceReplay(src, { profiles: ['6.6'], window: { since: 2.000001 } });
    expect(late.problems?.free_unknown.count).toBe(1);
  });

  it('folds the CPUs of the trace onto fewer (trace CPU k on k mod n)', async () => {
    const src = textSource('fold', text.join('\n'));
    const scan = await scanTrace(src);
    expect(scan.maxCpu).toBe(7);
    const r = await traceReplay(src, { profiles: ['6.6'], cpus: 3 });
    expect(r.cpus).toEqual({ trace: 8, replay: 3, folded: true });
    expect(r.profiles[0].machine.cpus).toBe(3);
    // alloc on i % 8, free on (i + 3) % 8: the same CPU after folding by 3 exactly when (i % 8) % 3 === ((i + 3) % 8) % 3
    const same = Array.from({ length: 20 }, (_, i) => (i % 8) % 3 === ((i + 3) % 8) % 3).filter(Boolean).length;
    expect(r.profiles[0].cross_cpu_frees).toBe(20 - same);
    expect(r.profiles[0].checks.ok).toBe(true);
  });

  it("caches beyond the machine's room, or with a name too long for it, go to kmalloc by size", async () => {
    const long = `a_cache_name_longer_than_the_machine_keeps_${'x'.repeat(10)}`;
    const names = [...Array.from({ length: 60 }, (_, i) => `cache_${String(i).padStart(2, '0')}`), long];
    const lines = names.flatMap((name, i) => {
      const ptr = (0x2000 + i).toString(16).padStart(16, '0');
      // cache_00 gets the most allocations, cache_59 the fewest
      return [
        ...Array.from({ length: 100 - i }, (_, k) =>
          line(
            0,
            `5.${String(i * 1000 + k).padStart(6, '0')}`,
            `kmem_cache_alloc: call_site=site_${i}+0x1/0x2 ptr=${(0x100000 * (i + 1) + k).toString(16).padStart(16, '0')} bytes_req=96 bytes_alloc=96 gfp_flags=GFP_KERNEL`,
          ),
        ),
        line(
          1,
          `6.${String(i).padStart(6, '0')}`,
          `kmem_cache_alloc: call_site=site_${i}+0x1/0x2 ptr=${ptr} bytes_req=96 bytes_alloc=96 gfp_flags=GFP_KERNEL`,
        ),
        line(0, `7.${String(i).padStart(6, '0')}`, `kmem_cache_free: call_site=free_${i}+0x1/0x2 ptr=${ptr} name=${name}`),
      ];
    });
    const r = await traceReplay(textSource('many caches', lines.join('\n')), { profiles: ['6.6'] });
    expect(r.caches).toHaveLength(51);
    expect(r.caches[0].name).toBe('cache_00');
    expect(r.folded_caches.sort()).toEqual(names.slice(51).sort()); // the last 9 by allocations, and the long name
    const p = r.profiles[0];
    expect(p.checks.ok).toBe(true);
    expect(p.caches.find((c) => c.name === 'cache_00')?.allocated).toBe(101);
    // Cache i had 101 - i allocations; those of the folded ones went to kmalloc-96.
    expect(p.caches.find((c) => c.name === 'kmalloc-96')?.allocated).toBe(
      names.slice(51).reduce((n, _, k) => n + 101 - (51 + k), 0),
    );
  });

  it('a machine too small for the trace: allocations fail and are counted, their frees skipped, the checks still hold', async () => {
    const big = Array.from({ length: 300 }, (_, i) =>
      alloc(i % 2, `3.${String(i).padStart(6, '0')}`, 'big+0x1/0x2', (0x1000 + i).toString(16).padStart(16, '0'), 4096),
    );
    const frees = Array.from({ length: 300 }, (_, i) =>
      kfree(i % 2, `4.${String(i).padStart(6, '0')}`, 'big_free+0x1/0x2', (0x1000 + i).toString(16).padStart(16, '0')),
    );
    const r = await traceReplay(textSource('big', [...big, ...frees].join('\n')), { profiles: ['5.4'], memory: 1 << 20 });
    const p = r.profiles[0];
    expect(p.failed).toBeGreaterThan(0);
    expect(p.allocs + p.failed).toBe(300);
    expect(p.frees).toBe(p.allocs);
    expect(r.problems?.free_unknown.count).toBe(0);
    expect(p.checks.ok).toBe(true);
  });
});
