// Ctrl-C during `slabsim trace` (src/cli/interrupt.ts): the replay stops at its next
// chunk, every profile's machine is checked and reported on the events before it, the
// files say interrupted, and the exit code is 130.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { synthTrace } from '../src/trace/synth.js';
import { builtBin, builtDir } from './built.js';
import { tempDir } from './temp.js';

const EVENTS = 300_000;

async function writeTrace(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (const chunk of synthTrace({ events: EVENTS, cpus: 4, live: 2000, seed: 4 })) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

describe('Ctrl-C during slabsim trace', () => {
  it('stops the replay, checks and reports what was replayed, writes the files marked interrupted, exit 130', async () => {
    const dir = tempDir('slabsim-trace-int-');
    const trace = join(dir, 'big.trace');
    const json = join(dir, 'out.json');
    await writeTrace(trace);
    // bin/slabsim.mjs of the compiled tree, as installed (test/built.ts): tsx would add a second of CPU
    const bin = builtBin(builtDir(inject('built')));
    const proc = spawn(process.execPath, [bin, 'trace', trace, '--json', json, '--report', join(dir, 'out.html')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const started = new Promise<void>((resolve) =>
      proc.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('kmem events replayed on 4 CPUs')) resolve();
      }),
    );
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = once(proc, 'exit') as Promise<[number | null]>;
    await started; // printed when the replay starts, after the scan
    proc.kill('SIGINT');
    const [code] = await exit;
    expect(code, stderr).toBe(130);
    expect(stdout).toMatch(/^trace .*big\.trace \(ftrace, 300,000 lines\): 300,000 kmem events replayed on 4 CPUs/);
    expect(stdout).toMatch(/interrupted \(Ctrl-C\): replayed the first [\d,]+ events/);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(j.interrupted).toBe(true);
    expect(j.profiles.map((p: { profile: string }) => p.profile)).toEqual(['5.4', '6.6', '6.18', '7.0']);
    for (const p of j.profiles) {
      expect(p.events).toBeLessThan(EVENTS);
      expect(p.checks).toMatchObject({ ok: true, double_issue: 0, bad_free: 0, lost: 0, validate_errors: 0 });
      expect(p.checks.live).toBe(p.live_end); // what the cut-off trace still holds
    }
    expect(readFileSync(join(dir, 'out.html'), 'utf8')).toContain('id="summary"');
  });
});
