// slabsim stress --model: a user's model free-running on worker threads, round after
// round, its final check after every round (one source, two modes).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const RING = 'test/fixtures/ring.model.ts';
const CASES = 'test/fixtures/stress_cases.model.ts';

describe('slabsim stress --model', () => {
  it.each([2, 4])('runs the correct Vyukov ring on %i worker threads: every round checked, none failed', (cpus) => {
    const dir = tempDir('stress-');
    const r = cli('stress', '--model', RING, '--cpus', String(cpus), '--ops', '300', '--json', join(dir, 's.json'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^stress vyukov-ring \\(${RING}\\) on ${cpus} worker threads: 300 rounds in .* 0 failed$`, 'm'),
    );
    const j = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'));
    expect(j).toMatchObject({
      schema: 'slabsim-stress/1',
      model: 'vyukov-ring',
      cpus,
      rounds: 300,
      failed_rounds: 0,
      failures: [],
    });
    expect(j.rounds_per_sec).toBeGreaterThan(0);
  });

  it('a check that fails is counted in every round it fails, with its message (exit 1)', () => {
    const r = cli('stress', '--model', CASES, '--export', 'alwaysWrong', '--ops', '50');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/: 50 rounds in .*, 50 failed$/m);
    expect(r.stdout).toContain("round 0 (CPU0's check): words are 1 and 1, and this check wants them to be 2");
  });

  it('a round that stops making progress is reported as stalled (exit 1), not a hang', () => {
    const r = cli('stress', '--model', CASES, '--export', 'neverRaised', '--ops', '5', '--stall-timeout', '1s');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/round 0 stalled: no progress for 1\.\d s/);
  });

  it('refuses, in one line with exit 2: a CPU count the model does not take, a file without the two-way marker', () => {
    const dir = tempDir('stress-');
    const few = cli('stress', '--model', RING, '--cpus', '9', '--ops', '5', '--json', join(dir, 's.json'));
    expect(few.status).toBe(2);
    expect(few.stderr).toBe("slabsim: model 'vyukov-ring' runs on 2 to 8 CPUs, not 9\n");
    expect(existsSync(join(dir, 's.json'))).toBe(false);
    const unmarked = cli('stress', '--model', 'test/fixtures/unmarked.model.ts', '--ops', '5');
    expect(unmarked.status).toBe(2);
    expect(unmarked.stderr.trim().split('\n')).toHaveLength(1);
    expect(unmarked.stderr).toContain("thread() is still a generator in free-running form: mark its file '/* @two-way */'");
  });
});
