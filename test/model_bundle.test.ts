// A model file compiled on the main thread for the worker threads (src/cli/model_bundle.ts):
// the plain case becomes one module naming slabsim's entries, each file in the form the
// model loader would give it; everything else is left to the loader, and the compiled CLI
// still runs such a file on its workers.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fastSources } from '../src/cli/fast_sources.js';
import { modelEntries, withEntries } from '../src/cli/loader.js';
import { bundleModelFile } from '../src/cli/model_bundle.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const RING = resolve('test/fixtures/ring.model.ts');

/** A model of one load per CPU, with `extra` lines before it; its import of slabsim as given. */
const model = (extra = '', marker = false, name = 'bundled') =>
  `${marker ? '/* @two-way */\n' : ''}import { alloc, defineModel, load32, site, word } from 'slabsim';
${extra}
const S = site('bundled');
export default defineModel({
  name: '${name}',
  cpus: 2,
  create(m) {
    const w: number = word(m, alloc(m, 8));
    return { *thread() { yield* load32(m, w, S); } };
  },
});
`;

/** Files written into a new directory; the path of the first. */
function files(contents: Record<string, string>): string {
  const dir = tempDir('model-bundle-');
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
  return join(dir, Object.keys(contents)[0]);
}

/** The entries of slabsim a compiled module imports (each once, sorted). */
const entriesOf = (compiled: string) => [...new Set([...compiled.matchAll(/"slabsim-entry:([^"]+)"/g)].map((m) => m[1]))].sort();

describe('bundleModelFile', () => {
  it('compiles a model and the files it imports into one module, with slabsim named as an entry', async () => {
    const path = files({
      'm.model.ts': model(
        "import { helper } from './helper.js';\nimport { sep } from 'node:path';\nexport const both = [helper, sep];",
      ),
      'helper.ts': "import { site } from 'slabsim';\nexport const helper: string = String(site('helper'));\n",
    });
    const compiled = await bundleModelFile(path);
    expect(compiled).not.toBeNull();
    expect(entriesOf(compiled!)).toEqual(['slabsim']);
    expect(compiled).toContain('String(site("helper"))'); // the helper is inside, its types gone
    expect(compiled).not.toContain(': number');
    expect(compiled).toMatch(/from "node:path"/);
    // Each thread names its own copy of slabsim there.
    const ready = withEntries(compiled!);
    expect(ready).not.toContain('slabsim-entry:');
    expect(ready).toContain(JSON.stringify(modelEntries().slabsim));
  });

  it('the free-running form: two-way files as their fast twins importing the fast entry, a plain helper as it is', async () => {
    const path = files({
      'm.model.ts': model("import { helper } from './helper.js';\nexport const h = helper;", true),
      'helper.ts': "import { site } from 'slabsim';\nexport const helper = site('helper');\n",
    });
    const fast = await bundleModelFile(path, await fastSources(path));
    expect(fast).not.toBeNull();
    expect(entriesOf(fast!)).toEqual(['slabsim', 'slabsim/fast']);
    expect(fast).not.toContain('yield');
    const generators = await bundleModelFile(path);
    expect(entriesOf(generators!)).toEqual(['slabsim']);
    expect(generators).toContain('yield* load32');
    // A user's ring: its twin has no generator left.
    const ring = await bundleModelFile(RING, await fastSources(RING));
    expect(entriesOf(ring!)).toEqual(['slabsim/fast']);
    expect(ring).not.toContain('yield');
  });

  it.each([
    ['another package', model("import { z } from 'zod';\nexport const s = z.string();")],
    ['import.meta', model('export const here = import.meta.url;')],
    ['require()', model("export const fs = require('node:fs');")],
    ['a dynamic import', model("export const later = () => import('./other.js');")],
    ['an entry of slabsim it does not have', model("export * from 'slabsim/internal';")],
    ['a file of slabsim itself', model(`export { SlabError } from ${JSON.stringify(resolve('src/errors.ts'))};`)],
    ['a syntax error', model('export const = 1;')],
  ])('leaves %s to the model loader (null)', async (_, text) => {
    expect(await bundleModelFile(files({ 'm.model.ts': text }))).toBeNull();
  });

  it('leaves a two-way file asked for in both forms to the model loader', async () => {
    const path = files({
      'm.model.ts': model("import { a } from './a.js';\nimport { b } from './b.js';\nexport const ab = [a, b];", true),
      'a.ts': '/* @two-way */\nexport const a = 1;\n',
      // b.ts is plain: what it imports is in the generator form, a.ts a second time
      'b.ts': "import { a } from './a.js';\nexport const b = a;\n",
    });
    expect(await bundleModelFile(path)).not.toBeNull();
    expect(await bundleModelFile(path, await fastSources(path))).toBeNull();
  });
});

describe('a model left to the model loader', () => {
  it("runs on the compiled CLI's explore worker all the same, two files at once, in a CommonJS project (npm init -y)", () => {
    const path = files({
      'm.model.ts': model('export const here = import.meta.url;'),
      'n.model.ts': model('export const here = import.meta.url;', false, 'bundled-too'),
      'package.json': JSON.stringify({ name: 'app', version: '1.0.0', type: 'commonjs' }),
    });
    // The worker imports both at once: the second must wait for the hooks the first registers.
    const r = cli('race', '--model', path, '--model', join(path, '..', 'n.model.ts'), '--runs', '5');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const name of ['bundled', 'bundled-too'])
      expect(r.stdout).toMatch(new RegExp(`${name}: 5 runs, \\d+ steps, no failure`));
  });
});
