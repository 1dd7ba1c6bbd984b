// `race --strategy dpor` from the command line: the report (text and models[].dpor in
// --json), shards merged into one search, and bad input (one line, exit 2).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const MODEL = 'test/fixtures/dpor.model.ts';
const adders = (...args: string[]) => cli('race', '--model', MODEL, '--export', 'adders', '--strategy', 'dpor', ...args);

describe('race --strategy dpor', () => {
  it('says how many traces it explored, in the text and as models[].dpor', () => {
    const r = adders('--json', '-');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.models[0]).toMatchObject({
      model: 'dpor-adders',
      runs: 90,
      exhausted: true,
      outcomes: [{ outcome: 'sum 6', count: 90, grade: 'acceptable' }],
      dpor: {
        algorithm: 'optimal',
        bound: null,
        complete: 90,
        blocked: 0,
        sleep_blocked: 0,
        exhausted: true,
        frontier: { depth: 0, items: 0 },
      },
    });
    const text = adders('--dpor', 'source');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      /^dpor-adders: 90 runs, \d+ steps, dpor source: 90 complete executions, one per trace \(0 blocked, 0 sleep-blocked\), every interleaving explored, no failure$/m,
    );
    // under a bound: no trace count; within 0 preemptions each CPU runs whole, in each of the 3! orders
    const bounded = adders('--preemption-bound', '0');
    expect(bounded.stdout).toMatch(
      /dpor optimal within 0 preemptions: 6 complete executions \(0 blocked; bounded: not a trace count\), every interleaving within 0 preemptions explored/,
    );
  });

  it('four shards, merged, give one search: the same complete count, exhausted only with every shard', () => {
    const dir = tempDir('dpor-shards-');
    const files = [0, 1, 2, 3].map((k) => {
      const file = join(dir, `shard${k}.json`);
      const r = adders('--shard', `${k}/4`, '--json', file, '--quiet');
      expect(r.status).toBe(0);
      return file;
    });
    const parts = files.map((f) => JSON.parse(readFileSync(f, 'utf8')).models[0].dpor);
    expect(parts.every((d) => d.exhausted && d.frontier.depth > 0)).toBe(true);
    expect(parts.reduce((n, d) => n + d.complete, 0)).toBe(90);
    const merged = cli('race', '--merge', ...files, '--json', '-');
    expect(merged.status).toBe(0);
    expect(JSON.parse(merged.stdout).models[0]).toMatchObject({
      exhausted: true,
      dpor: { complete: 90, blocked: 0, exhausted: true },
    });
    const three = JSON.parse(cli('race', '--merge', ...files.slice(0, 3), '--json', '-').stdout).models[0];
    expect(three).toMatchObject({ exhausted: false, dpor: { exhausted: false } });
    expect(three.dpor.complete).toBeLessThan(90);
    // a job on two threads makes its shard's executions: it merges with the others
    const threads = join(dir, 'shard1-threads.json');
    expect(adders('--shard', '1/4', '--workers', '2', '--json', threads, '--quiet').status).toBe(0);
    expect(JSON.parse(readFileSync(threads, 'utf8')).models[0].dpor).toMatchObject({
      complete: parts[1].complete,
      exhausted: true,
    });
    // --shard auto: the CI's variables name the same shard
    const auto = cli.withEnv({ SLABSIM_SHARD: '1/4' })(
      'race',
      '--model',
      MODEL,
      '--export',
      'adders',
      '--strategy',
      'dpor',
      '--shard',
      'auto',
      '--json',
      '-',
    );
    expect(JSON.parse(auto.stdout)).toMatchObject({ shard: '1/4', models: [{ dpor: { complete: parts[1].complete } }] });
    const mixed = cli('race', '--merge', files[0], threads, files[2], files[3], '--json', '-');
    expect(JSON.parse(mixed.stdout).models[0].dpor).toMatchObject({ complete: 90, exhausted: true });
  });

  it('--workers 2: one search on two threads', () => {
    const r = adders('--workers', '2', '--json', '-');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).models[0]).toMatchObject({ exhausted: true, dpor: { complete: 90, exhausted: true } });
  });
});

describe('bad input: one line, exit 2', () => {
  it.each([
    [['--dpor', 'bogus'], /^error: option '--dpor <algorithm>' argument 'bogus' is invalid\. expected one of optimal, source$/],
    [['--shard', '4/4'], /^error: option '--shard <k\/n\|auto>' argument '4\/4' is invalid\. expected K\/N with 0 <= K < N/],
    [
      ['--memory-model', 'arm'],
      /^slabsim: --strategy dpor explores only the sc memory model, not arm: its reduction assumes every store is seen by all CPUs at once \(use random, pct or dfs under arm\)$/,
    ],
  ])('%j', (args, line) => {
    const r = adders(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(line);
  });

  it('a model that never ends: its step limit and the schedule that ran past it, which replays', () => {
    const r = cli('race', '--model', MODEL, '--export', 'forever', '--strategy', 'dpor');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const line = r.stderr.trimEnd();
    expect(line.split('\n')).toHaveLength(1);
    const schedule =
      /^slabsim: test\/fixtures\/dpor\.model\.ts: model 'dpor-forever': dpor needs every run to end, but one ran past its step limit \(max-steps 300\): (v1:dpor-forever:\S+)$/.exec(
        line,
      )?.[1];
    expect(schedule).toBeDefined();
    const again = cli('replay', schedule ?? '', '--model', MODEL);
    expect(again.stdout).toMatch(/step limit \(max-steps 300\)/);
  });
});
