// --shard auto: this job's shard from the CI system's own parallel-job variables.
import { describe, expect, it } from 'vitest';
import { shardFromEnv } from '../src/race/shard.js';
import { cli } from './helpers.js';

describe('shardFromEnv', () => {
  it.each([
    ['GitHub Actions (a matrix value passed on)', { SLABSIM_SHARD: '2/4' }, [2, 4]],
    ['GitLab CI (counts from 1)', { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '4' }, [2, 4]],
    ['CircleCI', { CIRCLE_NODE_INDEX: '0', CIRCLE_NODE_TOTAL: '3' }, [0, 3]],
    ['Buildkite', { BUILDKITE_PARALLEL_JOB: '5', BUILDKITE_PARALLEL_JOB_COUNT: '6' }, [5, 6]],
    ['a Kubernetes Indexed Job', { JOB_COMPLETION_INDEX: '7', SLABSIM_SHARD_COUNT: '8' }, [7, 8]],
    ['SLABSIM_SHARD before a CI variable', { SLABSIM_SHARD: '1/2', CI_NODE_INDEX: '1', CI_NODE_TOTAL: '9' }, [1, 2]],
  ])('%s', (_, env, shard) => {
    expect(shardFromEnv(env)).toEqual(shard);
  });

  it.each([
    [
      {},
      'no CI shard variables are set (expected one of SLABSIM_SHARD, CI_NODE_INDEX/CI_NODE_TOTAL, CIRCLE_NODE_INDEX/CIRCLE_NODE_TOTAL, BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT, JOB_COMPLETION_INDEX/SLABSIM_SHARD_COUNT)',
    ],
    [{ SLABSIM_SHARD: '4/4' }, "SLABSIM_SHARD is '4/4': expected K/N with 0 <= K < N (K counts from 0), e.g. 0/4"],
    [{ CI_NODE_INDEX: '0', CI_NODE_TOTAL: '2' }, "CI_NODE_INDEX is '0', expected a whole number >= 1"],
    [{ CI_NODE_INDEX: '3', CI_NODE_TOTAL: '2' }, 'CI_NODE_INDEX=3 is past CI_NODE_TOTAL=2 (GitLab CI counts it from 1)'],
    [{ CIRCLE_NODE_INDEX: 'x', CIRCLE_NODE_TOTAL: '2' }, "CIRCLE_NODE_INDEX is 'x', expected a whole number >= 0"],
    [{ BUILDKITE_PARALLEL_JOB: '1' }, 'BUILDKITE_PARALLEL_JOB is set (Buildkite) but BUILDKITE_PARALLEL_JOB_COUNT is not'],
    [{ JOB_COMPLETION_INDEX: '1', SLABSIM_SHARD_COUNT: '0' }, "SLABSIM_SHARD_COUNT is '0', expected a whole number >= 1"],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => shardFromEnv(env)).toThrow(message);
  });
});

describe('slabsim race --shard auto', () => {
  const run = (env: Record<string, string>) =>
    cli.withEnv(env)('race', '--scenario', 'treiber-stack', '--runs', '30', '--shard', 'auto', '--json', '-');

  it('takes the shard from the CI variables and says which one it ran', () => {
    const r = run({ CIRCLE_NODE_INDEX: '1', CIRCLE_NODE_TOTAL: '3' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ shard: '1/3', runs: 30 });
  });

  it('a malformed variable exits 2 with one line naming it', () => {
    const r = run({ CI_NODE_INDEX: 'first', CI_NODE_TOTAL: '2' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("slabsim: --shard auto: CI_NODE_INDEX is 'first', expected a whole number >= 1\n");
  });
});
