// Every format variant of a kmem trace replays on all four profiles: the four
// lines with and without the ftrace header, 4.x and 6.x lines, trace-cmd report, perf
// script. Each ends with the ledger and validate clean, and with the same objects live.
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../src/config.js';
import { fileSource, textSource } from '../src/trace/source.js';
import { type TraceReport, traceReplay } from '../src/trace/trace.js';
import { readFileSync } from 'node:fs';
import { tempDir } from './temp.js';

const replay = (name: string): Promise<TraceReport> =>
  traceReplay(fileSource(`test/fixtures/traces/${name}`), { profiles: PROFILES });

/** What must hold of every profile's replay of a fixture. */
function expectEveryProfile(
  r: TraceReport,
  want: { allocs: number; frees: number; crossCpu: number; leftOut: number; live: number },
): void {
  expect(r.profiles.map((p) => p.profile)).toEqual(PROFILES);
  for (const p of r.profiles) {
    expect(p.checks.messages, p.profile).toEqual([]);
    expect(p.checks.ok).toBe(true);
    expect([p.allocs, p.frees, p.cross_cpu_frees, p.left_out, p.live_end, p.failed], p.profile).toEqual([
      want.allocs,
      want.frees,
      want.crossCpu,
      want.leftOut,
      want.live,
      0,
    ]);
    expect(p.checks.live).toBe(want.live); // the ledger holds what the replay holds
    expect(p.slab_pages_peak).toBeGreaterThan(0);
  }
}

describe("the issue's four lines", () => {
  it('replay on every profile: filp from its named free, the skb to kmalloc-256, both freed on other CPUs', async () => {
    const r = await replay('issue_example.trace');
    expect([r.format, r.events, r.cpus.trace, r.cpus.replay, r.cpus.folded]).toEqual(['ftrace', 4, 4, 4, false]);
    expect(r.caches).toEqual([{ name: 'filp', objectSize: 256, sites: 1, allocs: 1 }]);
    // The kmalloc line is 30 ms older than the line before it: replayed in timestamp order.
    expect(r.disorder).toBeCloseTo(0.030319, 6);
    expectEveryProfile(r, { allocs: 2, frees: 2, crossCpu: 2, leftOut: 0, live: 0 });
    for (const p of r.profiles) {
      expect(p.caches.filter((c) => c.allocated > 0).map((c) => [c.name, c.allocated, c.freed])).toEqual([
        ['kmalloc-256', 1, 1],
        ['filp', 1, 1],
      ]);
      expect(p.memory.reorder).toBe(2); // held back until no later line could come first
    }
  });

  it('replay the same with the ftrace header', async () => {
    const plain = await replay('issue_example.trace');
    const r = await replay('issue_example_header.trace');
    expect([r.format, r.lines, r.events]).toEqual(['ftrace (with header)', 16, 4]);
    expectEveryProfile(r, { allocs: 2, frees: 2, crossCpu: 2, leftOut: 0, live: 0 });
    const numbers = (x: TraceReport) => x.profiles.map((p) => [p.stats, p.slab_pages_peak, p.list_locks_per_op, p.cas_per_op]);
    expect(numbers(r)).toEqual(numbers(plain));
  });

  it('replay sorted the same as out of order: the replay is in timestamp order, whatever the file order', async () => {
    const lines = readFileSync('test/fixtures/traces/issue_example.trace', 'latin1').trimEnd().split('\n');
    const sorted = [lines[1], lines[0], lines[2], lines[3]].join('\n');
    const a = await traceReplay(textSource('sorted', sorted), { profiles: PROFILES });
    const b = await replay('issue_example.trace');
    expect(a.disorder).toBe(0);
    expect(a.profiles.map((p) => [p.stats, p.caches])).toEqual(b.profiles.map((p) => [p.stats, p.caches]));
  });
});

describe('each format variant', () => {
  it('4.x lines: hex call sites, raw pointers, _node events, unnamed frees (kmalloc by size), kfree(NULL) left out', async () => {
    const r = await replay('ftrace_old.trace');
    expect([r.format, r.events, r.cpus.trace]).toEqual(['ftrace', 8, 3]);
    expect(r.caches).toEqual([]); // no free names its cache: every object goes to kmalloc by bytes_alloc
    expectEveryProfile(r, { allocs: 4, frees: 3, crossCpu: 2, leftOut: 1, live: 1 });
    for (const p of r.profiles) {
      expect(p.leaks).toEqual([{ call_site: 'ffffffff8127a0b1', cache: 'kmalloc-192', objects: 1, bytes: 192 }]);
      expect(p.caches.find((c) => c.name === 'kmalloc-2k')?.allocated).toBe(1);
    }
  });

  it('6.x lines: tgid column, module suffixes, name=, other events and lost events skipped and counted', async () => {
    const r = await replay('ftrace_new.trace');
    expect([r.format, r.events]).toEqual(['ftrace (with header)', 10]);
    expect(r.skipped).toMatchObject({ other_events: { sched_switch: 1 }, lost_notices: 1, lost_events: 3, malformed: 0 });
    expect(r.caches.map((c) => [c.name, c.objectSize])).toEqual([['filp', 256]]);
    // kfree(NULL) and the free of a pointer allocated before the trace are left out.
    expectEveryProfile(r, { allocs: 5, frees: 3, crossCpu: 2, leftOut: 2, live: 2 });
    expect(r.problems?.free_unknown).toEqual({ count: 1, by_call_site: [{ call_site: 'seq_release+0x20/0x30', count: 1 }] });
    for (const p of r.profiles)
      expect(p.leaks).toEqual([{ call_site: 'leaky_init+0x1c/0x40 [memleak]', cache: 'kmalloc-128', objects: 2, bytes: 256 }]);
  });

  it("trace-cmd report: the plugin's symbols name the call sites; 0x pointers", async () => {
    const r = await replay('trace_cmd_report.txt');
    expect([r.format, r.events]).toEqual(['trace-cmd report', 5]);
    expect(r.caches.map((c) => c.name)).toEqual(['filp']);
    expectEveryProfile(r, { allocs: 3, frees: 2, crossCpu: 2, leftOut: 0, live: 1 });
    for (const p of r.profiles) {
      expect(p.leaks).toEqual([{ call_site: 'load_elf_binary+0x1f6/0x1970', cache: 'kmalloc-2k', objects: 1, bytes: 2048 }]);
    }
  });

  it('perf script: kmem:<event> names; a non-kmem event skipped and counted', async () => {
    const r = await replay('perf_script.txt');
    expect([r.format, r.events, r.skipped.other_events]).toEqual(['perf script', 4, { mm_page_alloc: 1 }]);
    expectEveryProfile(r, { allocs: 2, frees: 2, crossCpu: 2, leftOut: 0, live: 0 });
  });

  it('a gzip-compressed trace reads as its text', async () => {
    const { gzipSync } = await import('node:zlib');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(tempDir('slabsim-trace-'), 'trace.gz');
    writeFileSync(file, gzipSync(readFileSync('test/fixtures/traces/ftrace_new.trace')));
    const r = await traceReplay(fileSource(file), { profiles: ['6.6'] });
    const plain = await traceReplay(fileSource('test/fixtures/traces/ftrace_new.trace'), { profiles: ['6.6'] });
    expect([r.lines, r.events, r.profiles[0].leaks]).toEqual([plain.lines, plain.events, plain.profiles[0].leaks]);
  });
});
