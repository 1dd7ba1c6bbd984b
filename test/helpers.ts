// What several test files need: the machine's digest, refusals that change nothing, the
// CLI as a child process, and the checks every run must pass.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { CI_SHARD_SOURCES } from '../src/race/shard.js';
import { createHash } from 'node:crypto';
import { afterAll, expect, inject } from 'vitest';
import { builtBin, builtDir, importBuilt } from './built.js';
import { SlabError } from '../src/errors.js';
import { allocPages } from '../src/mm/page_alloc.fast.js';
import type { Machine } from '../src/shm/machine.js';
import type { CpuPool } from '../src/workload/workers.js';
import type { RunReport } from '../src/workload/run.js';

/** A digest of the whole machine: equal digests mean bit-identical state. */
export const digest = (m: Machine): string => createHash('sha256').update(m.u8).digest('hex');

/**
 * `fn` throws a SlabError of `code` whose message contains each string and matches each
 * RegExp of `parts`, and the machine is bit-identical afterwards.
 */
export function expectRefused(m: Machine, fn: () => unknown, code: string, ...parts: Array<string | RegExp>): SlabError {
  const before = digest(m);
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'should throw').toBeInstanceOf(SlabError);
  const err = caught as SlabError;
  expect(err.code).toBe(code);
  for (const p of parts) {
    if (typeof p === 'string') expect(err.message).toContain(p);
    else expect(err.message).toMatch(p);
  }
  expect(digest(m)).toBe(before);
  return err;
}

/** `f` throws a SlabError of `code` (whose message matches `msg`, if given). */
export function expectSlabError(f: () => unknown, code: string, msg?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SlabError);
    expect((e as SlabError).code).toBe(code);
    if (msg) expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error(`expected a SlabError ${code}`);
}

/** Take every free page of node 0 (order 0, for CPU 0); the pfns taken. */
export function takeAllPages(m: Machine): number[] {
  const taken: number[] = [];
  for (let pfn = allocPages(m, 0, 0, 0); pfn !== 0; pfn = allocPages(m, 0, 0, 0)) taken.push(pfn);
  return taken;
}

/**
 * `slabsim ...args` in a child process: the CLI compiled from the sources when vitest
 * started (test/built.ts: a child starts in a third of the time tsx takes), with the CI's
 * own shard variables cleared. `cli.fromSource` runs src/cli/main.ts through tsx instead,
 * for what only a run from source does (a model file's `slabsim` resolved to src/).
 */
export const cli = Object.assign((...args: string[]) => cli.withEnv({})(...args), {
  /** The CLI with these environment variables set (on top of a cleared CI environment). */
  withEnv:
    (env: Record<string, string>) =>
    (...args: string[]) =>
      spawnCli([builtBin(builtDir(inject('built'))), ...args], env),
  fromSource: (...args: string[]) => spawnCli(['--import', 'tsx', 'src/cli/main.ts', ...args], {}),
});

const spawnCli = (argv: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    timeout: 120_000,
    // not run by npx, whatever ran the tests: the commands it prints name bin/slabsim.mjs
    env: { ...withoutShardVariables(process.env), npm_command: '', ...env },
  });

/** A command line as a person pastes it into a shell, run in the repository's root. */
export const shell = (command: string) =>
  spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 120_000, env: withoutShardVariables(process.env) });

/** A CI job running these tests must not hand its own shard to the CLI under test. */
function withoutShardVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const s of CI_SHARD_SOURCES) {
    delete out[s.index];
    delete out[s.count];
  }
  delete out.SLABSIM_SHARD;
  return out;
}

/** Σ over a run's caches of one stat. */
export const totalStat = (r: RunReport, item: keyof RunReport['caches'][number]['stats']): number =>
  r.caches.reduce((s, c) => s + (c.stats[item]?.total ?? 0), 0);

/**
 * A SLUB run ended clean: its ledger, validate, page accounting and (unless `paths` is
 * false: the sheaf profiles state theirs in test/sheaf_stress.test.ts) the 5.4/6.6 path
 * counters agree.
 */
export function expectRunClean(r: RunReport, paths = true): void {
  expect(r.checks.messages).toEqual([]);
  expect(r.checks).toMatchObject({ ok: true, double_issue: 0, bad_free: 0, lost: 0, live: 0, validate_errors: 0 });
  // every slab accounted for: the pages not free are exactly the slab pages
  expect(r.pages.total - r.pages.free).toBe(r.pages.slab);
  if (!paths) return;
  // counter identities: every allocation attempt enters the fast or the slow path once,
  // every free leaves by one of the two paths
  const sum = (k: 'allocs' | 'failed' | 'frees' | 'irq_allocs' | 'irq_frees') => r.per_cpu.reduce((s, c) => s + c[k], 0);
  expect(totalStat(r, 'alloc_fastpath') + totalStat(r, 'alloc_slowpath')).toBe(sum('allocs') + sum('failed') + sum('irq_allocs'));
  expect(totalStat(r, 'free_fastpath') + totalStat(r, 'free_slowpath')).toBe(sum('frees') + sum('irq_frees'));
}

/** The first line a child process prints (a server's URL line); rejects with its stderr if it exits first. */
export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise<string>((done, fail) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('\n')) done(out.split('\n')[0]);
    });
    child.stderr?.on('data', (d) => (err += d));
    child.on('exit', (code) => fail(new Error(`the child exited ${code} before its first line: ${err}`)));
  });
}

/**
 * Worker threads kept for a test file's runs, one pool per CPU count, closed after the
 * file's last test: `runWorkload({ ..., pool: await pools(cpus) })`. A run on a kept pool
 * finds its threads started and its code compiled, as compare's repeated runs do. The
 * threads run the compiled tree (test/built.ts): a thread started from source spends
 * about a second of CPU in tsx, a compiled one a quarter of that.
 */
export function keptPools(): (cpus: number) => Promise<CpuPool> {
  const pools = new Map<number, Promise<CpuPool>>();
  afterAll(async () => {
    await Promise.all([...pools.values()].map(async (p) => (await p).destroy()));
  });
  return (cpus) => {
    let pool = pools.get(cpus);
    if (!pool) {
      const built = importBuilt(builtDir(inject('built')), 'workload/workers.js') as Promise<
        typeof import('../src/workload/workers.js')
      >;
      pools.set(cpus, (pool = built.then(({ CpuPool }) => new CpuPool(cpus))));
    }
    return pool;
  };
}
