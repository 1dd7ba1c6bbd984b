// Ctrl-C ends a run, not the evidence (src/cli/interrupt.ts): a SIGINT to a running
// `run`, `race` or `compare` stops it at a safe point, checks and reports what was done,
// writes the files marked interrupted and exits 130; a second SIGINT quits at once and
// leaves no partial file.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { RACE_SCHEMA } from '../src/race/explore.js';
import { builtBin, builtDir } from './built.js';
import { tempDir } from './temp.js';

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** resolves once stdout (or stderr) holds `text` */
  printed: (text: string) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/**
 * `slabsim ...args` through bin/slabsim.mjs (which also catches a Ctrl-C while loading), in
 * the compiled tree (test/built.ts) as in an installed package: from the sources, tsx
 * would spend about a second of CPU on the process and on each of its worker threads.
 */
function start(...args: string[]): Child {
  const proc = spawn(process.execPath, [builtBin(builtDir(inject('built'))), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<[string, () => void]> = [];
  const seen = (text: string): boolean => stdout.includes(text) || stderr.includes(text);
  const check = (): void => {
    for (const [text, resolve] of waiters) if (seen(text)) resolve();
  };
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const t0 = performance.now();
  return {
    proc,
    out: () => stdout,
    err: () => stderr,
    printed: (text) =>
      new Promise((resolve) => {
        if (seen(text)) resolve();
        else waiters.push([text, resolve]);
      }),
    exit: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, ms: performance.now() - t0 }))),
  };
}

const dir = (): string => tempDir('sigint-');
const TIMEOUT = 120_000;

describe('Ctrl-C during slabsim run', () => {
  it(
    'the first SIGINT stops the CPUs, the checks run, the summary prints, the files say interrupted, exit 130',
    async () => {
      const d = dir();
      const json = join(d, 'run.json');
      const html = join(d, 'run.html');
      const c = start('run', '--workload', 'threadtest', '--cpus', '2', '--duration', '60s', '--json', json, '--report', html);
      await c.printed('slabsim run: workload threadtest'); // printed once every CPU has started
      // Started is not yet working: a SIGINT before a CPU's first batch rightly reports 0
      // operations (under load that happened); give them a second of work to report.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const sent = performance.now();
      c.proc.kill('SIGINT');
      const { code } = await c.exit;
      expect(code).toBe(130);
      expect(performance.now() - sent).toBeLessThan(30_000); // long before the 60 s were up
      expect(c.out()).toMatch(/interrupted \(Ctrl-C\)/);
      expect(c.out()).toMatch(/checks: ok/);
      const j = JSON.parse(readFileSync(json, 'utf8'));
      expect(j.interrupted).toBe(true);
      expect(j.ops).toBeGreaterThan(0);
      expect(j.elapsed_ms).toBeLessThan(60_000);
      expect(j.checks).toMatchObject({ ok: true, double_issue: 0, bad_free: 0, lost: 0, live: 0, validate_errors: 0 });
      expect(readFileSync(html, 'utf8')).toMatch(/id="card-interrupted"/);
      expect(readdirSync(d).sort()).toEqual(['run.html', 'run.json']);
    },
    TIMEOUT,
  );

  it(
    'a second SIGINT quits at once with 130 and leaves no partial file',
    async () => {
      const d = dir();
      const c = start('run', '--workload', 'larson', '--cpus', '2', '--duration', '60s', '--json', join(d, 'run.json'));
      await c.printed('slabsim run: workload larson');
      c.proc.kill('SIGINT');
      await c.printed('slabsim: interrupted: stopping'); // the first was taken: the CPUs are stopping
      c.proc.kill('SIGINT');
      const { code, ms } = await c.exit;
      expect(code).toBe(130);
      expect(ms).toBeLessThan(60_000);
      expect(c.err()).toMatch(/interrupted again: quitting now/);
      expect(c.out()).not.toMatch(/checks:/); // no summary: it quit before the end
      // Nothing half-written: no temporary file, and a file there is whole and marked.
      for (const f of readdirSync(d)) {
        expect(f).toBe('run.json');
        expect(JSON.parse(readFileSync(join(d, f), 'utf8')).interrupted).toBe(true);
      }
    },
    TIMEOUT,
  );
});

describe('Ctrl-C during slabsim race', () => {
  it(
    'stops the search between two runs and reports the runs done (dfs, its estimate printed first)',
    async () => {
      const d = dir();
      const json = join(d, 'race.json');
      const c = start(
        'race',
        '--scenario',
        'remote-free-vs-deactivate',
        '--profile',
        '5.4',
        '--strategy',
        'dfs',
        '--preemption-bound',
        '6',
        '--runs',
        '100000000',
        '--json',
        json,
      );
      await c.printed('about'); // the DFS estimate: the search has begun
      c.proc.kill('SIGINT');
      const { code } = await c.exit;
      expect(code).toBe(130);
      expect(c.out()).toMatch(/interrupted \(Ctrl-C\): the counts cover the runs done/);
      const j = JSON.parse(readFileSync(json, 'utf8'));
      expect(j).toMatchObject({ schema: RACE_SCHEMA, interrupted: true, failures: 0 });
      expect(j.runs).toBeGreaterThan(0);
      expect(j.models[0]).toMatchObject({ exhausted: false });
      expect(j.models[0].runs).toBe(j.runs);
    },
    TIMEOUT,
  );

  it(
    'with --workers: every worker stops, the merged report says interrupted, exit 130',
    async () => {
      const d = dir();
      const json = join(d, 'race.json');
      const c = start('race', '--scenario', 'all', '--runs', '100000000', '--workers', '2', '--json', json, '--quiet');
      // The workers are exploring within a second (each starts in 0.1 s of CPU); any moment
      // would do: a stop set before a worker's first run ends it before that run.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      c.proc.kill('SIGINT');
      const { code } = await c.exit;
      expect(code).toBe(130);
      const j = JSON.parse(readFileSync(json, 'utf8'));
      expect(j).toMatchObject({ interrupted: true, failures: 0, shard: '0/1' });
      expect(j.runs).toBe(j.models.reduce((s: number, m: { runs: number }) => s + m.runs, 0));
    },
    TIMEOUT,
  );
});

describe('Ctrl-C during slabsim compare', () => {
  it(
    'keeps the rows done, marks the report interrupted, exit 130',
    async () => {
      const d = dir();
      const json = join(d, 'compare.json');
      const c = start('compare', '--workload', 'threadtest', '--cpus', '1', '--duration', '20s', '--json', json);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      c.proc.kill('SIGINT');
      const { code } = await c.exit;
      expect(code).toBe(130);
      expect(c.out()).toMatch(/interrupted \(Ctrl-C\)/);
      const j = JSON.parse(readFileSync(json, 'utf8'));
      expect(j).toMatchObject({ schema: 'slabsim-compare/2', interrupted: true });
      // the run in hand was stopped and checked: one row, with that one run
      expect(j.rows).toHaveLength(1);
      expect(j.rows[0]).toMatchObject({ allocator: 'slub', runs: 1, checks_ok: true });
    },
    TIMEOUT,
  );
});
