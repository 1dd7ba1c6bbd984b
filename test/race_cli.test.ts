import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTANT_MODES, MUTANT_NAMES } from '../src/mm/slub/mutants.js';
import { MODELS, modelByName } from '../src/race/catalogue.js';
import { raceScheduleString, runRace } from '../src/race/run.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

/** `slabsim list`, run once for the tests that read it. */
let listed: ReturnType<typeof cli> | undefined;
const list = () => (listed ??= cli('list'));

describe('slabsim list', () => {
  it('shows every scenario and mutant on one line each, and as JSON', () => {
    const text = list();
    expect(text.status).toBe(0);
    for (const m of MODELS) expect(text.stdout).toMatch(new RegExp(`^  ${m.name} .*CPUs`, 'm'));
    for (const m of MUTANT_NAMES) expect(text.stdout).toMatch(new RegExp(`^  ${m} +${MUTANT_MODES[m]} `, 'm'));
    const j = JSON.parse(cli('list', '--json').stdout);
    expect(j.mutants.map((m: { name: string }) => m.name)).toEqual(MUTANT_NAMES);
    expect(j.mutants.map((m: { mode: string }) => m.mode)).toEqual(MUTANT_NAMES.map((m) => MUTANT_MODES[m]));
    expect(j.mutants.filter((m: { mode: string }) => m.mode === 'arm').length).toBeGreaterThanOrEqual(4);
    expect(j.mutants.every((m: { scenarios: string[] }) => m.scenarios.length > 0)).toBe(true);
  });
});

describe('slabsim race', () => {
  it('the correct code: no failure, exit 0, outcomes table, JSON and JUnit', () => {
    const dir = tempDir('race-');
    const r = cli('race', '--runs', '150', '--seed', '3', '--json', join(dir, 'r.json'), '--junit', join(dir, 'r.xml'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/count +grade +outcome/);
    expect(r.stdout).toMatch(/acceptable/);
    const j = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(j).toMatchObject({ schema: 'slabsim-race/2', failures: 0, strategy: 'random', seed: 3 });
    // every model but the broken-by-design ones: SLUB scenarios on the profiles they apply to, the others once
    const explored = MODELS.filter((m) => !m.broken).reduce((n, m) => n + (m.profiles?.length ?? 1), 0);
    expect(j.models).toHaveLength(explored);
    const once = j.models.filter((r: { profile: string | null }) => r.profile === null).map((r: { model: string }) => r.model);
    expect(once).toEqual(MODELS.filter((m) => !m.broken && !m.profiles).map((m) => m.name));
    expect(j.steps_per_sec).toBeGreaterThan(0);
    expect(j.sched_steps_per_sec).toBeGreaterThan(j.steps_per_sec);
    const xml = readFileSync(join(dir, 'r.xml'), 'utf8');
    expect(xml).toMatch(new RegExp(`<testsuite [^>]*tests="${explored}" failures="0"`));
  });

  // The ordering mutants have their own test (weak_slub.test.ts) and one run here.
  it.each(MUTANT_NAMES.filter((m) => MUTANT_MODES[m] === 'sc').map((m) => [m]))(
    'mutant %s is found: exit 1, a shrunk schedule that replays to the same failure',
    (mutant) => {
      const r = cli('race', '--mutant', mutant, '--budget', '40s');
      expect(r.status).toBe(1);
      const shrunk = /shrunk \((\d+) -> (\d+) preemptions\): (\S+)/.exec(r.stdout);
      expect(shrunk).not.toBeNull();
      const [, before, after, schedule] = shrunk as RegExpExecArray;
      expect(Number(after)).toBeLessThanOrEqual(Number(before));
      const original = /schedule \(\d+ chars\): (\S+)/.exec(r.stdout)?.[1] ?? '';
      expect(schedule.length).toBeLessThanOrEqual(original.length + 0);
      const violated = /violated: (.*)/.exec(r.stdout)?.[1];
      const [again] = [original, schedule].map((s) => {
        const replay = cli('replay', s);
        expect(replay.status).toBe(1);
        expect(replay.stdout).toMatch(/FAILED/);
        return replay;
      });
      expect(again.stdout).toContain((violated ?? '').slice(0, 30));
    },
  );

  it('an ordering mutant is hunted in its own memory mode: arm, a v2 schedule that replays', () => {
    const r = cli('race', '--mutant', 'relaxed-treiber-push', '--runs', '200');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^treiber-stack \(memory model arm\): \d+ runs, \d+ steps, FAILED/m);
    const shrunk = /shrunk \(\d+ -> \d+ preemptions\): (\S+)/.exec(r.stdout)?.[1] ?? '';
    expect(shrunk).toMatch(/^v2:treiber-stack:-:relaxed-treiber-push:\d+:arm:/);
    const replay = cli('replay', shrunk);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toMatch(/memory model arm\): \d+ steps, FAILED/);
    // under sc the same runs find nothing: the mode is what finds it
    const sc = cli('race', '--mutant', 'relaxed-treiber-push', '--runs', '200', '--memory-model', 'sc');
    expect(sc.status).toBe(0);
  });

  it('replay --trace prints the interleaving step by step, and a clean schedule exits 0', () => {
    const cfg = { model: modelByName('remote-free-vs-deactivate')!, profile: '6.6' as const, mutant: null, seed: 5 };
    const run = runRace(cfg, new RandomStrategy(5));
    expect(run.failed).toBe(false);
    const r = cli('replay', raceScheduleString(cfg, run.choices), '--trace');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(run.steps);
    expect(r.stdout).toMatch(/CPU0 .*-> /);
    expect(r.stdout).toMatch(/cas2 \[\d+\] 0x[0-9a-f]+ (ok|failed)/);
  });

  it('--workers spreads the runs over threads as disjoint shards, merged into one report', () => {
    const out = join(tempDir('race-'), 'w.json');
    const r = cli(
      'race',
      '--scenario',
      'drain-vs-remote-free',
      '--profile',
      '5.4',
      '--runs',
      '60',
      '--workers',
      '2',
      '--json',
      out,
    );
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.runs).toBe(120);
    expect(j.models).toHaveLength(1);
  });

  it('shards cover disjoint runs and merge into one report', () => {
    const dir = tempDir('race-');
    const files = [0, 1].map((k) => {
      const f = join(dir, `s${k}.json`);
      expect(cli('race', '--scenario', 'drain-vs-remote-free', '--runs', '40', '--shard', `${k}/2`, '--json', f).status).toBe(0);
      return f;
    });
    const m = cli('race', '--merge', ...files, '--json', join(dir, 'm.json'));
    expect(m.status).toBe(0);
    const merged = JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8'));
    // 40 runs per shard on each profile the scenario applies to (5.4, 6.6, 6.18)
    const model = modelByName('drain-vs-remote-free');
    expect(merged.runs).toBe(40 * 2 * (model?.profiles?.length ?? 0));
    expect(merged.shard).toBe('0/2,1/2');
  });

  it.each([
    [['race', '--strategy', 'bfs']],
    [['race', '--scenario', 'nope']],
    [['race', '--shard', '3/2']],
    [['race', '--budget', 'soon']],
    [['replay', 'v9:x']],
    [['replay', 'v1:remote-free-vs-deactivate:6.6:none:1:z']],
  ])('bad usage %j exits 2 with one line', (args) => {
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('the HAProxy pools under the explorer', () => {
  it('haproxy-shared (plain Treiber stack) breaks by ABA with a replayable schedule', () => {
    const r = cli('race', '--scenario', 'haproxy-shared', '--profile', '5.4', '--budget', '20s');
    expect(r.status).toBe(1);
    const schedule = /shrunk \(\d+ -> \d+ preemptions\): (\S+)/.exec(r.stdout)?.[1] ?? '';
    const replay = cli('replay', schedule);
    expect(replay.status).toBe(1);
    expect(replay.stdout).toMatch(/while CPU\d holds|FAILED/);
  });

  it.each([['haproxy-tagged'], ['haproxy-percpu']])('%s: nothing found', (scenario) => {
    const r = cli('race', '--scenario', scenario, '--runs', '1500');
    expect(r.status).toBe(0);
  });

  it('haproxy-shared is broken by design: not part of --scenario all', () => {
    expect(list().stdout).toMatch(/haproxy-shared .*broken by design/);
  });
});
