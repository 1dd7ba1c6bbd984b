// Shards of an exploration: shard k of n takes runs k, k+n, k+2n, ... of the seed space,
// so n CI jobs never repeat each other's runs and `race --merge` adds them up.
// `--shard auto` reads k and n from the CI system's own parallel-job variables: the CI
// schedules the jobs, slabsim only knows which one it is.
import { SlabError } from '../errors.js';

/** Shard k of n (0 <= k < n): runs k, k+n, k+2n, ... of the seed space. */
export type Shard = [index: number, count: number];

/** `k/n` with 0 <= k < n. */
export function parseShard(text: string, what = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new SlabError('EINVAL', `${what} is '${text}': expected K/N with 0 <= K < N (K counts from 0), e.g. 0/4`);
  return [Number(m[1]), Number(m[2])];
}

/** Where a CI system says which of its parallel jobs this is. */
interface ShardSource {
  system: string;
  index: string;
  count: string;
  /** the index variable counts from 1 */
  fromOne: boolean;
}

/** In the order they are tried; SLABSIM_SHARD (any CI: a matrix value passed on) first. */
export const CI_SHARD_SOURCES: readonly ShardSource[] = [
  { system: 'GitLab CI', index: 'CI_NODE_INDEX', count: 'CI_NODE_TOTAL', fromOne: true },
  { system: 'CircleCI', index: 'CIRCLE_NODE_INDEX', count: 'CIRCLE_NODE_TOTAL', fromOne: false },
  { system: 'Buildkite', index: 'BUILDKITE_PARALLEL_JOB', count: 'BUILDKITE_PARALLEL_JOB_COUNT', fromOne: false },
  { system: 'Kubernetes Indexed Job', index: 'JOB_COMPLETION_INDEX', count: 'SLABSIM_SHARD_COUNT', fromOne: false },
];

/**
 * `--shard auto`: this job's shard from the environment. SLABSIM_SHARD=k/n (GitHub
 * Actions matrix values, or any CI), else the first CI system whose index variable is
 * set. A variable that is set but malformed, or an index without its count, is an error
 * naming the variable; no variable at all is an error listing them.
 */
export function shardFromEnv(env: Record<string, string | undefined>): Shard {
  const given = env.SLABSIM_SHARD;
  if (given !== undefined && given !== '') return parseShard(given, 'SLABSIM_SHARD');
  for (const s of CI_SHARD_SOURCES) {
    const index = env[s.index];
    if (index === undefined || index === '') continue;
    const count = env[s.count];
    if (count === undefined || count === '')
      throw new SlabError(
        'EINVAL',
        `--shard auto: ${s.index} is set (${s.system}) but ${s.count} is not: it must give the number of jobs`,
      );
    const n = wholeNumber(count, s.count, 1);
    const k = wholeNumber(index, s.index, s.fromOne ? 1 : 0) - (s.fromOne ? 1 : 0);
    if (k >= n)
      throw new SlabError(
        'EINVAL',
        `--shard auto: ${s.index}=${index} is past ${s.count}=${count} (${s.system} counts it from ${s.fromOne ? 1 : 0})`,
      );
    return [k, n];
  }
  const names = ['SLABSIM_SHARD', ...CI_SHARD_SOURCES.map((s) => `${s.index}/${s.count}`)];
  throw new SlabError('EINVAL', `--shard auto: no CI shard variables are set (expected one of ${names.join(', ')})`);
}

function wholeNumber(text: string, name: string, min: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min)
    throw new SlabError('EINVAL', `--shard auto: ${name} is '${text}', expected a whole number >= ${min}`);
  return Number(text);
}
