// Model files from a user's own project on the command line: race, replay and list
// with --model (a Vyukov ring with a planted bug, test/fixtures/ring.model.ts), a
// schedule refused by another model, and each kind of broken model file refused in one
// line that names the file, with exit 2 and no output files.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, shell } from './helpers.js';
import { tempDir } from './temp.js';

const RING = 'test/fixtures/ring.model.ts';

/** A model in plain JavaScript, as an ES module: CPU0 raises a flag, CPU1 reads it. */
const JS_MODEL = `import { alloc, defineModel, load32, site, store32, word } from 'slabsim';
const S = site('js-flag');
export default defineModel({
  name: 'js-flag',
  cpus: 2,
  create(m) {
    const flag = word(m, alloc(m, 8));
    return {
      *thread(cpu) {
        if (cpu.id === 0) yield* store32(m, flag, 1, S);
        else yield* load32(m, flag, S);
      },
    };
  },
});
`;

/**
 * The shrunk schedule of the planted bug, found by the compiled CLI once for the tests that
 * replay it (the same command each time: one run proves what two would).
 */
let publishEarly: string | undefined;
const publishEarlySchedule = (): string =>
  (publishEarly ??=
    /shrunk \(.*\): (\S+)/.exec(
      cli('race', '--model', RING, '--export', 'publishEarly', '--runs', '2000', '--strategy', 'pct').stdout,
    )?.[1] ?? '');

describe('slabsim race --model', () => {
  it('explores the correct ring with every strategy: exit 0, the model explored once', () => {
    for (const strategy of ['random', 'pct', 'dfs']) {
      const dir = tempDir('model-');
      const r = cli('race', '--model', RING, '--strategy', strategy, '--runs', '600', '--json', join(dir, 'r.json'));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const j = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
      expect(j.models).toHaveLength(1);
      expect(j.models[0]).toMatchObject({ model: 'vyukov-ring', profile: null });
      expect(j.models[0].failure).toBeUndefined();
      if (strategy === 'dfs') expect(j.models[0].exhausted).toBe(true);
    }
  });

  it('finds the planted bug, shrinks it, and the printed command, run as printed, replays it with exit 1', () => {
    // From source, where the model's `slabsim` is src/index.ts (the other tests run the compiled CLI).
    const r = cli.fromSource('race', '--model', RING, '--export', 'publishEarly', '--runs', '2000', '--strategy', 'pct');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('violated: a consumer took 0, which no producer sent');
    const command = /replay: (node bin\/slabsim\.mjs replay '\S+' --model (\S+) --export publishEarly --trace)$/m.exec(r.stdout);
    expect(command, r.stdout).not.toBeNull();
    expect(command?.[2]).toBe(RING);
    const again = shell(command?.[1] ?? '');
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/CPU\d {2}(load|store|cas) \[\d+\]/);
    expect(again.stdout).toContain('a consumer took 0, which no producer sent');
  });

  it('replay --model FILE takes the export whose model the schedule names, without --export', () => {
    const schedule = publishEarlySchedule();
    expect(schedule).toMatch(/^v1:vyukov-ring-publish-early:-:none:/);
    const r = cli('replay', schedule, '--model', RING);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('a consumer took 0, which no producer sent');
  });

  it('a model the file re-exports from another module runs on worker threads and replays through that file', () => {
    // peterson.model.ts exports a model built by test/models/locks.ts, which does not export it.
    const file = 'test/fixtures/peterson.model.ts';
    const r = cli('race', '--model', file, '--memory-model', 'tso', '--runs', '400', '--workers', '2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    const command = /replay: \S+(?: \S+)? replay ('v2:peterson-relax:\S+') --model (\S+) --trace$/m.exec(r.stdout);
    expect(command, r.stdout).not.toBeNull();
    expect(command?.[2]).toBe(file);
    const again = cli('replay', command![1].slice(1, -1), '--model', file);
    expect(again.status).toBe(1);
  });

  it('a schedule of one model is refused by a file or an export without it, in one line (exit 2)', () => {
    const schedule = publishEarlySchedule();
    const r = cli('replay', schedule, '--model', RING, '--export', 'default');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      "slabsim: schedule is for model 'vyukov-ring-publish-early', which is not the model given ('vyukov-ring')\n",
    );
    const other = cli('replay', schedule, '--model', 'test/fixtures/stress_cases.model.ts');
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/^slabsim: schedule is for model 'vyukov-ring-publish-early', which is /);
    const builtIn = cli('replay', schedule);
    expect(builtIn.status).toBe(2);
    expect(builtIn.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--export NAME that the file lacks lists every export, the default one too', () => {
    const r = cli('race', '--model', RING, '--export', 'nope');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`slabsim: ${RING}: no export named 'nope' (its exports: default, publishEarly)\n`);
  });

  it('model files written as ES modules (.ts, .js) load in a CommonJS project (npm init -y)', () => {
    const dir = tempDir('cjs-project-');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'commonjs' }));
    copyFileSync(RING, join(dir, 'ring.model.ts'));
    writeFileSync(join(dir, 'flag.model.js'), JS_MODEL);
    // Both files in one command, through the bin, as a person runs it (the test's own
    // `--import tsx` would hide the problem).
    const r = shell(
      `node bin/slabsim.mjs race --model ${join(dir, 'ring.model.ts')} --model ${join(dir, 'flag.model.js')} --runs 50`,
    );
    expect(r.stderr).toBe('');
    for (const model of ['vyukov-ring', 'js-flag'])
      expect(r.stdout).toMatch(new RegExp(`${model}: 50 runs, \\d+ steps, no failure`));
  });

  it('list --model shows the models of a file', () => {
    const r = cli('list', '--model', RING, '--export', 'publishEarly', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).models).toMatchObject([{ name: 'vyukov-ring-publish-early', cpus: 2, file: RING }]);
    expect(cli('list', '--model', RING).stdout).toMatch(/^ {2}vyukov-ring +2 CPUs {2}producers and consumers/m);
  });
});

describe('a broken model file is one line naming the file, exit 2, and no output files', () => {
  const cases: Array<[string, RegExp]> = [
    ['syntax_error.model.ts', /: cannot load it: syntax error at line 2:\d+: Unexpected ";"$/],
    [
      'no_export.model.ts',
      /: no default export \(expected a model from defineModel\(\); its exports: answer; pick one with --export NAME\)$/,
    ],
    [
      'thread_throws.model.ts',
      /: model 'thread-throws': thread\(\) of CPU1 threw TypeError: cannot read properties of undefined$/,
    ],
    ['check_throws.model.ts', /: model 'check-throws': finalCheck\(\) threw RangeError: index out of range$/],
    ['wrong_types.model.ts', /: model 'wrong-types': cpus must be an integer from 1 to 52, got 'two'$/],
    ['plain_object.model.mjs', /: export 'default' 'plain': create must be a function .*, got 'not a function'$/],
  ];
  it.each(cases)('%s', (name, problem) => {
    const dir = tempDir('bad-model-');
    const file = `test/fixtures/bad/${name}`;
    const r = cli('race', '--model', file, '--runs', '50', '--json', join(dir, 'r.json'), '--junit', join(dir, 'r.xml'));
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith(`slabsim: ${file}: `)).toBe(true);
    expect(lines[0]).toMatch(problem);
    expect(existsSync(join(dir, 'r.json'))).toBe(false);
    expect(existsSync(join(dir, 'r.xml'))).toBe(false);
  });

  it('a missing file, and --export without --model', () => {
    expect(cli('race', '--model', 'test/fixtures/none.model.ts').stderr).toBe(
      'slabsim: test/fixtures/none.model.ts: no such file\n',
    );
    const r = cli('race', '--export', 'x');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('slabsim: --export needs --model FILE\n');
  });
});
