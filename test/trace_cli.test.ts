// slabsim trace on the command line: the report and its files, and bad input refused
// with one line and exit 2 before anything is written: no trace, too many malformed
// lines, an unknown profile, a recording instead of its text, a missing file. A few
// malformed lines are named with their line numbers and skipped; CPUs folded are said once.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanTrace } from '../src/trace/scan.js';
import { fileSource } from '../src/trace/source.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const dir = tempDir('slabsim-trace-cli-');
const at = (name: string): string => join(dir, name);
const FIXTURE = 'test/fixtures/traces/issue_example_header.trace';

const good = (i: number): string =>
  `  task-1 [00${i % 4}] ..... 7.${String(i).padStart(6, '0')}: kmalloc: call_site=s+0x1/0x2 ptr=${(0x1000 + i).toString(16).padStart(16, '0')} bytes_req=32 bytes_alloc=32 gfp_flags=GFP_KERNEL node=-1 accounted=false`;
const broken = (i: number): string =>
  `  task-1 [000] ..... 7.${String(i).padStart(6, '0')}: kfree: call_site=s+0x1/0x2 ptr=not-a-pointer`;

describe('slabsim trace', () => {
  it('prints the profiles side by side and writes the JSON and the HTML report', () => {
    const r = cli('trace', FIXTURE, '--json', at('t.json'), '--report', at('t.html'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^trace .*issue_example_header\.trace \(ftrace \(with header\), 16 lines\): 4 kmem events replayed on 4 CPUs/,
    );
    expect(r.stdout).toMatch(/profile +events +allocs .* list_lock\/op +barn_lock\/op +CAS\/op +slab pages peak/);
    expect(r.stdout).toMatch(/read twice in [\d.]+ s \(scan [\d.]+ s, replay on 4 profiles at once [\d.]+ s\): [\d,]+ events\/s/);
    for (const p of ['5.4', '6.6', '6.18', '7.0']) expect(r.stdout).toMatch(new RegExp(`^${p.replace('.', '\\.')} +4 `, 'm'));
    expect(r.stdout).toContain('checks: ledger and validate ok on 5.4, 6.6, 6.18, 7.0');
    const j = JSON.parse(readFileSync(at('t.json'), 'utf8'));
    expect([j.schema, j.events, j.profiles.length, j.caches[0].name]).toEqual(['slabsim-trace/1', 4, 4, 'filp']);
    expect(j.timing.events_per_sec).toBeGreaterThan(0);
    const html = readFileSync(at('t.html'), 'utf8');
    for (const id of ['pages-chart', 'live-chart', 'leaks', 'problems', 'counters']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain('slabsim trace:');
  });

  it('names a few malformed lines by number and replays the rest; folds CPUs and says so once', () => {
    const lines = Array.from({ length: 199 }, (_, i) => good(i));
    lines.splice(50, 0, broken(50));
    writeFileSync(at('few.trace'), `${lines.join('\n')}\n`);
    const r = cli('trace', at('few.trace'), '--profiles', '6.6', '--cpus', '2', '--json', '-');
    expect(r.status, r.stderr).toBe(0);
    const notes = r.stderr.trim().split('\n');
    expect(notes).toEqual([
      `slabsim: ${at('few.trace')}:51: malformed kmem line skipped: ptr=not-a-pointer is not a pointer`,
      'slabsim: the trace names CPUs 0..3; replaying on 2 CPUs: trace CPU k runs as CPU k mod 2',
    ]);
    const j = JSON.parse(r.stdout);
    expect([j.events, j.skipped.malformed, j.skipped.malformed_lines[0].line, j.cpus]).toEqual([
      199,
      1,
      51,
      { trace: 4, replay: 2, folded: true },
    ]);
  });

  it('refuses bad input with one line and exit 2, writing nothing', () => {
    writeFileSync(
      at('words.txt'),
      `${Array.from({ length: 10_001 }, (_, i) => `line ${i} of a file that is no trace`).join('\n')}\n`,
    );
    const cases: Array<[string[], RegExp]> = [
      [
        [at('words.txt')],
        /is not a kmem trace: no kmalloc, kmem_cache_alloc, kfree or kmem_cache_free event in its first 10,000 lines/,
      ],
      [[FIXTURE, '--profiles', '6.6,8.0'], /--profiles.*expected one of 5\.4, 6\.6, 6\.18, 7\.0/],
      [[FIXTURE, '--since', '5', '--until', '4'], /^slabsim: --since 5 is after --until 4: expected since <= until$/],
    ];
    for (const [args, message] of cases) {
      const out = at(`out-${args.length}.json`);
      const r = cli('trace', ...args, '--json', out, '--report', `${out}.html`);
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(existsSync(out) || existsSync(`${out}.html`)).toBe(false);
    }
  });

  it('refuses more than 1% malformed, a recording instead of its text, a missing file (the errors the CLI prints)', async () => {
    const many = Array.from({ length: 100 }, (_, i) => (i % 20 === 0 ? broken(i) : good(i)));
    writeFileSync(at('many.trace'), `${many.join('\n')}\n`);
    await expect(scanTrace(fileSource(at('many.trace')))).rejects.toThrow(
      /5 of 100 kmem lines are malformed \(5\.0%, more than 1%\): line 1: ptr=not-a-pointer is not a pointer$/,
    );
    writeFileSync(at('trace.dat'), Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing6\0\0\0')]));
    writeFileSync(at('perf.data'), 'PERFILE2\0\0\0\0');
    expect(() => fileSource(at('trace.dat'))).toThrow(
      /is a trace-cmd recording \(trace\.dat\): give the text of 'trace-cmd report' instead/,
    );
    expect(() => fileSource(at('perf.data'))).toThrow(
      /is a perf recording \(perf\.data\): give the text of 'perf script' instead/,
    );
    expect(() => fileSource(at('missing.trace'))).toThrow(/cannot read '.*missing\.trace': ENOENT/);
    expect(() => fileSource(dir)).toThrow(/is a directory, not a trace file/);
    const empty = at('empty.trace');
    writeFileSync(empty, '');
    await expect(scanTrace(fileSource(empty))).rejects.toThrow(/is not a kmem trace: .* in its 0 lines/);
  });
});
