// slabsim as a library, used the way a person uses it from their own project: pack this
// project, install the tarball into a new project outside the repository (offline, from
// the npm cache this project's install filled), write there a lock-free algorithm with a
// planted bug (a Vyukov MPMC ring) and a vitest file using slabsim/vitest, and run the
// tests, the CLI and a replay from there. Nothing there imports a path of this repository.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstLine } from './helpers.js';

const repo = resolve(import.meta.dirname, '..');

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [k: string]: unknown;
}

const run = (cwd: string, cmd: string, args: string[], timeout = 300_000) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, CI: '1', NO_COLOR: '1' } });
  // eslint-disable-next-line no-control-regex
  return { status: r.status, out: `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') };
};

/** Build and pack a copy of this project (the working tree is left alone): the tarball's path. */
function pack(work: string): string {
  const copy = join(work, 'pkg');
  mkdirSync(copy);
  for (const entry of [
    'src',
    'workers',
    'scripts',
    'bin',
    'bench',
    'docs',
    'README.md',
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ])
    cpSync(join(repo, entry), join(copy, entry), {
      recursive: true,
      filter: (src) => !src.endsWith('.fast.ts') || src.endsWith('atomic.fast.ts') || src.endsWith('irq.fast.ts'),
    });
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
  const r = run(copy, 'npm', ['pack', '--pack-destination', work, '--silent']);
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.out}`);
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack made no tarball:\n${r.out}`);
  return join(work, tgz);
}

/**
 * A lock file for the consumer, from this project's: the tarball, and every package its
 * dependencies and vitest reach, at the versions this project installed (so `npm ci
 * --offline` finds them all in the cache).
 */
function consumerLock(name: string, tgz: string, deps: Record<string, string>): object {
  const ours = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const slabsim: LockEntry = {
    version: pkg.version,
    resolved: `file:${tgz}`,
    integrity: `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`,
    license: pkg.license,
    dependencies: pkg.dependencies,
    bin: pkg.bin,
    engines: pkg.engines,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
  };
  const packages: Record<string, LockEntry> = {
    '': { name, dependencies: deps },
    'node_modules/slabsim': slabsim,
  };
  // Node's lookup: the package's own node_modules, then each one above it.
  const find = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (ours.packages[key]) return key;
      if (!dir) return undefined;
    }
  };
  const visit = (from: string, entry: LockEntry): void => {
    const names = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const name of Object.keys(names)) {
      const key = find(from, name);
      if (!key || packages[key]) continue;
      const { dev: _dev, devOptional, ...rest } = ours.packages[key];
      packages[key] = devOptional ? { ...rest, optional: true } : rest;
      visit(key, ours.packages[key]);
    }
  };
  visit('', { dependencies: { ...pkg.dependencies, vitest: deps.vitest } });
  return { name, lockfileVersion: 3, requires: true, packages };
}

const MODEL = readFileSync(join(repo, 'test/fixtures/ring.model.ts'), 'utf8');

const TESTS = `import { expectRace, raceTest } from 'slabsim/vitest';
import ring, { publishEarly } from './ring.model.js';

raceTest('the Vyukov ring holds', ring, { runs: 500, strategy: 'pct' });
raceTest('and under DFS, within two preemptions', ring, { strategy: 'dfs', preemptionBound: 2 });
expectRace('publishing a cell before its value is found', publishEarly, { runs: 2000, strategy: 'pct' });
`;

describe('a project of its own that installs slabsim', () => {
  let work: string;
  let app: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'slabsim-consumer-'));
    const tgz = pack(work);
    app = join(work, 'app');
    mkdirSync(app);
    const vitest = JSON.parse(readFileSync(join(repo, 'node_modules/vitest/package.json'), 'utf8')).version as string;
    const deps = { slabsim: `file:${tgz}`, vitest };
    // A project as `npm init -y` makes it: `"type": "commonjs"`, which model files
    // written as ES modules (ring.model.ts) must not mind.
    const init = run(app, 'npm', ['init', '-y']);
    if (init.status !== 0) throw new Error(`npm init -y failed:\n${init.out}`);
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    expect(manifest.type).toBe('commonjs');
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ ...manifest, dependencies: deps }, null, 2)}\n`);
    writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify(consumerLock(manifest.name, tgz, deps), null, 2)}\n`);
    const install = run(app, 'npm', ['ci', '--offline', '--no-audit', '--no-fund']);
    if (install.status !== 0) throw new Error(`npm ci --offline failed:\n${install.out}`);
    writeFileSync(join(app, 'ring.model.ts'), MODEL);
    writeFileSync(join(app, 'ring.test.ts'), TESTS);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          // A CommonJS project (npm init -y) that imports the ES module slabsim the way
          // a bundler or tsx does: NodeNext would have the model file require() it.
          module: 'Preserve',
          moduleResolution: 'Bundler',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: [],
        },
        include: ['*.ts'],
      }),
    );
  }, 600_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('imports nothing from this repository', () => {
    for (const f of ['ring.model.ts', 'ring.test.ts', 'package.json'])
      expect(readFileSync(join(app, f), 'utf8')).not.toContain(repo);
  });

  it('type-checks against the published declarations', () => {
    const r = run(app, 'npx', ['tsc', '-p', '.']);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('npx vitest run passes: the correct ring holds, the broken one is found', () => {
    const r = run(app, 'npx', ['vitest', 'run']);
    expect(r.out).toMatch(/Tests +3 passed \(3\)/);
    expect(r.status).toBe(0);
  });

  it('npx slabsim race --model exits 0 for the correct ring and 1 for the broken one, whose schedule replays with exit 1', () => {
    const ok = run(app, 'npx', ['slabsim', 'race', '--model', './ring.model.ts', '--runs', '1000']);
    expect(ok.out).toMatch(/vyukov-ring: 1000 runs, \d+ steps, no failure/);
    expect(ok.status).toBe(0);
    const bad = run(app, 'npx', [
      'slabsim',
      'race',
      '--model',
      './ring.model.ts',
      '--export',
      'publishEarly',
      '--strategy',
      'pct',
      '--runs',
      '2000',
    ]);
    expect(bad.status).toBe(1);
    expect(bad.out).toContain('violated: a consumer took 0, which no producer sent');
    const command = /replay: (npx slabsim replay .*)$/m.exec(bad.out)?.[1];
    expect(command).toMatch(
      /^npx slabsim replay 'v1:vyukov-ring-publish-early:-:none:\d+:\w+' --model \.\/ring\.model\.ts --export publishEarly --trace$/,
    );
    // as printed, pasted into a shell
    const replay = run(app, 'sh', ['-c', command as string]);
    expect(replay.status).toBe(1);
    expect(replay.out).toContain('a consumer took 0, which no producer sent');
  });

  // One run on 4 threads: test/stress_model.test.ts runs the ring on 2 and 4 from the repository.
  it('npx slabsim stress --model runs the ring on 4 worker threads, clean', () => {
    const r = run(app, 'npx', ['slabsim', 'stress', '--model', './ring.model.ts', '--cpus', '4', '--ops', '200']);
    expect(r.out).toMatch(/on 4 worker threads: 200 rounds in .* 0 failed/);
    expect(r.status).toBe(0);
  });

  it('slabsim view --model builds the page from the installed package, with the model in its step worker', async () => {
    // The installed bin itself (what npx runs), so that killing the child stops the server.
    const bin = join(app, 'node_modules/slabsim/bin/slabsim.mjs');
    const child = spawn(process.execPath, [bin, 'view', '--port', '0', '--model', './ring.model.ts'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await firstLine(child);
      const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1] ?? '';
      expect(url).not.toBe('');
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      const step = await (await fetch(`${url}step.js`)).text();
      expect(step).toMatch(/["']vyukov-ring["']/);
      expect(step).not.toContain(repo);
      for (const f of ['page.js', 'cpu.js', 'uplot.css']) expect((await fetch(`${url}${f}`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
