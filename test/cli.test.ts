import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

describe('slabsim CLI', () => {
  it('run writes the JSON the issue names and exits 0', () => {
    const dir = tempDir('slabsim-');
    const out = join(dir, 'run.json');
    const r = cli('run', '--workload', 'pages', '--cpus', '2', '--ops', '20000', '--seed', '5', '--json', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.ops).toBe(20000);
    expect(j.elapsed_ms).toBeGreaterThan(0);
    expect(j.ops_per_sec).toBeGreaterThan(0);
    expect(j.per_cpu).toHaveLength(2);
    expect(j.pages.total).toBe(j.pages.free);
    expect(j.pages.buddyinfo[0].nr_free).toHaveLength(11);
    expect(j.checks).toMatchObject({ double_issue: 0, lost: 0, live: 0 });
    expect(readdirSync(dir)).toEqual(['run.json']);
  });

  it('prints a human summary with buddyinfo by default; the default workload is larson on SLUB', () => {
    const r = cli('run', '--cpus', '1', '--ops', '1000');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/workload larson, 1 CPUs/);
    expect(r.stdout).toMatch(/1000 ops in .* ops\/s over the whole run \(too short for a steady rate/);
    expect(r.stdout).toMatch(/Node 0, zone {3}Normal/);
    expect(r.stdout).toMatch(/kmalloc-\d+: \d+ allocs \(\d+% fast\)/);
    expect(r.stdout).toMatch(/checks: ok/);
  });

  it.each([
    [['run', '--cpus', '0'], /--cpus.*'0' is invalid.*1\.\.64/],
    [['run', '--cpus', '65'], /1\.\.64/],
    [['run', '--bogus'], /unknown option '--bogus'/],
    [['run', '--workload', 'nope'], /expected one of pages/],
    [['run', '--memory', '12Q'], /expected a size/],
    [['run', '--profile', '4.19'], /expected one of 5\.4, 6\.6/],
    [['run', '--seed', '-1'], /seed|invalid/],
    [['frobnicate'], /unknown command/],
  ])('bad usage %j exits 2 with one line', (args, message) => {
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('an unwritable output path exits 2 before running and leaves no file', () => {
    const dir = tempDir('slabsim-');
    const r = cli('run', '--ops', '100', '--json', join(dir, 'missing', 'x.json'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('run writes /proc/slabinfo, a /sys/kernel/slab tree and /proc/buddyinfo that agree with its JSON', () => {
    const dir = tempDir('slabsim-');
    const [json, proc, sys, buddy] = ['run.json', 'slabinfo', 'slab', 'buddyinfo'].map((f) => join(dir, f));
    const r = cli(
      'run',
      '--workload',
      'threadtest',
      '--cpus',
      '2',
      '--ops',
      '20000',
      '--json',
      json,
      '--proc-slabinfo',
      proc,
      '--sysfs-out',
      sys,
      '--buddyinfo',
      buddy,
      '--quiet',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['buddyinfo', 'run.json', 'slab', 'slabinfo']);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    const rows = readFileSync(proc, 'utf8')
      .split('\n')
      .slice(2, -1)
      .map((l) => l.split(/\s+/));
    expect(rows.map((f) => f[0])).toEqual(j.caches.map((c: { name: string }) => c.name).reverse());
    for (const c of j.caches) {
      const f = rows.find((x) => x[0] === c.name) as string[];
      expect([Number(f[1]), Number(f[2]), Number(f[14])]).toEqual([c.objects, c.total_objects, c.slabs]);
      expect(readFileSync(join(sys, c.sysfs_name, 'slabs'), 'utf8').split(/[ \n]/)[0]).toBe(String(c.slabs));
      expect(readFileSync(join(sys, c.name, 'objects'), 'utf8').split(/[ \n]/)[0]).toBe(String(c.objects));
    }
    const lines = readFileSync(buddy, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => l.trim().split(/\s+/).slice(4).map(Number))).toEqual(
      j.pages.buddyinfo.map((b: { nr_free: number[] }) => b.nr_free),
    );
  });

  it('a --sysfs-out directory that is not empty exits 2 before running and is left alone', () => {
    const dir = tempDir('slabsim-');
    writeFileSync(join(dir, 'keep'), 'x');
    const json = join(tmpdir(), `slabsim-never-${process.pid}.json`);
    const r = cli('run', '--ops', '100', '--json', json, '--sysfs-out', dir);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not empty/);
    expect(readdirSync(dir)).toEqual(['keep']);
    expect(existsSync(json)).toBe(false);
  });

  it('--help describes every option of run', () => {
    const r = cli('run', '--help');
    expect(r.status).toBe(0);
    for (const flag of [
      '--workload',
      '--cpus',
      '--nodes',
      '--memory',
      '--page-size',
      '--profile',
      '--ops',
      '--seed',
      '--json',
      '--proc-slabinfo',
      '--sysfs-out',
      '--buddyinfo',
      '--quiet',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe('slabsim geometry', () => {
  it('prints the kernel geometry as JSON (spec example: 64 B on 4 CPUs, 6.6)', () => {
    const r = cli('geometry', '--size', '64', '--cpus', '4', '--profile', '6.6', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      object_size: 64,
      slab_size: 64,
      order: 0,
      objs_per_slab: 64,
      cpu_partial: 120,
      cpu_partial_slabs: 4,
    });
  });

  it('a constructor moves the free pointer out of the object', () => {
    const r = cli('geometry', '--size', '64', '--flags', 'ctor', '--json');
    expect(JSON.parse(r.stdout)).toMatchObject({ offset: 64, slab_size: 72 });
  });

  it.each([[['geometry']], [['geometry', '--size', '64', '--flags', 'bogus']], [['geometry', '--size', '64', '--align', '3']]])(
    'bad usage %j exits 2 with one line',
    (args) => {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    },
  );
});

describe('slabsim run --spec', () => {
  const spec = (obj: unknown): string => {
    const dir = tempDir('spec-');
    const f = join(dir, 'spec.json');
    writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  };

  it('takes the options from the file; the command line wins', () => {
    const out = join(tempDir('spec-'), 'run.json');
    const f = spec({ workload: 'xmalloc', cpus: 3, 'irq-rate': 0.01, size: '32-64', ops: 20000, quiet: true, json: out });
    const r = cli('run', '--spec', f, '--cpus', '2');
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j).toMatchObject({ workload: 'xmalloc', irq_rate: 0.01, ops: 20000, config: { cpus: 2 } });
  });

  it.each([
    [{ cpus: 0 }, /'cpus': expected an integer in 1\.\.64, got 0/],
    [{ cpuz: 2 }, /unknown field 'cpuz'/],
    [{ workload: 'nope' }, /'workload': expected one of pages/],
    [{ quiet: 'yes' }, /'quiet': expected true or false/],
    [{ size: { min: 1 } }, /'size': expected a string, number or boolean/],
    ['{"cpus":', /is not JSON/],
    ['[1, 2]', /expected a JSON object/],
  ])('a malformed spec file %j ends with one line and exit code 2, no output file', (content, message) => {
    const dir = tempDir('spec-');
    const r = cli('run', '--spec', spec(content), '--json', join(dir, 'out.json'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('slabsim run --duration', () => {
  it('runs for the given time after every CPU has started, then frees everything', () => {
    const out = join(tempDir('dur-'), 'run.json');
    const r = cli('run', '--workload', 'threadtest', '--cpus', '2', '--duration', '400ms', '--json', out, '--quiet');
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.elapsed_ms).toBeGreaterThanOrEqual(380);
    expect(j.ops).toBeGreaterThan(1000);
    expect(j.checks.ok).toBe(true);
    // The rate without warm-up: the second half, up to the stop word.
    expect(j.steady_rate.from_ms).toBeGreaterThanOrEqual(200);
    expect(j.steady_rate.to_ms).toBeLessThanOrEqual(j.elapsed_ms);
    expect(j.steady_rate.to_ms - j.steady_rate.from_ms).toBeGreaterThanOrEqual(50);
    expect(j.steady_rate.ops_per_sec).toBeGreaterThan(0);
    expect(j.interrupted).toBe(false);
  });

  it('without --ops or --duration runs for 2 s and reports the steady rate, saying how it was taken', () => {
    const r = cli('run', '--workload', 'threadtest', '--cpus', '1');
    expect(r.status).toBe(0);
    const m =
      /(\d+) ops in ([\d.]+) ms: [\d,]+ ops\/s steady \((\d+)-(\d+) ms after the start; the first half, JIT warm-up, left out\)/.exec(
        r.stdout,
      );
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(1990);
    expect(Number(m?.[3])).toBeGreaterThanOrEqual(1000);
  });

  it.each([['xmalloc'], ['larson']])(
    '%s: producers close their rings, larson CPUs agree on the last epoch; clean',
    (workload) => {
      const out = join(tempDir('dur-'), 'run.json');
      const r = cli('run', '--workload', workload, '--cpus', '3', '--duration', '300ms', '--json', out, '--quiet');
      expect(r.status).toBe(0);
      const j = JSON.parse(readFileSync(out, 'utf8'));
      expect(j.elapsed_ms).toBeGreaterThanOrEqual(280);
      expect(j.checks.ok).toBe(true);
    },
  );
});
