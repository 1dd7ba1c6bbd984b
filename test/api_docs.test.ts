// The public entries: every exported name has TSDoc (TypeDoc's own check, as `npm run
// docs` runs it, warnings are errors), and the free-running entry exports exactly the
// names of the scheduled one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import * as fast from '../src/index.fast.js';
import * as scheduled from '../src/index.js';

it('npm run docs: the API reference builds from the TSDoc, with no undocumented export', () => {
  const out = mkdtempSync(join(tmpdir(), 'slabsim-api-'));
  try {
    // Without TypeScript's own type check, half of typedoc's time: the same program
    // (tsconfig.build.json) is type-checked by the build the consumer test packs.
    // typedoc's own bin, without npx's start (half a second of CPU)
    const bin = join('node_modules', 'typedoc', 'bin', 'typedoc');
    const r = spawnSync(process.execPath, [bin, '--out', out, '--skipErrorChecking'], { encoding: 'utf8', timeout: 240_000 });
    const text = `${r.stdout}${r.stderr}`;
    expect(text).not.toMatch(/warning|error/i);
    expect(r.status).toBe(0);
    expect(existsSync(join(out, 'README.md'))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('slabsim and its free-running twin (what stress loads models against) export the same names', () => {
  expect(Object.keys(fast).sort()).toEqual(Object.keys(scheduled).sort());
  expect(fast.load32).not.toBe(scheduled.load32);
  expect(fast.defineModel).toBe(scheduled.defineModel);
});
