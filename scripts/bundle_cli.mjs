// The CLI as one file, and the worker threads it starts: src/cli/main.ts's main() and
// everything it reaches, the small packages included, bundled into
// dist/src/cli/slabsim.js (which bin/slabsim.mjs imports to call main()), and
// workers/explore.ts, workers/stress.ts and workers/cpu.ts each into one file in place of
// their compiled dist/workers/*.js.
//
// Why: Node 20 loads an ES module graph file by file, and the CLI reaches some 220
// modules: 0.88 s of CPU before `slabsim list` prints anything, 0.5 s as one file; a
// `race` explores on a worker thread, which starts in 0.1 s of CPU instead of 0.3 s; a
// `stress --model` worker thread loaded its model against dist/src/index.fast.js through
// the model file's module hooks, a hundred modules each a round trip to the hooks thread
// (1.7 s of CPU per thread; 0.7 s against its bundle). See docs/architecture.md, "The
// CLI as one file". The rest of dist/ stays as tsc wrote it: the library (`import ...
// from 'slabsim'`) and the viewer's page.
//
// A bundle says where the package root is relative to itself (SLABSIM_BUNDLE_ROOT, read
// by src/package_files.ts), and exports one of slabsim's entries (SLABSIM_BUNDLE_API): a
// model file loaded there gets `slabsim` (or, in its free-running form on a stress
// worker, slabsim's fast entry) from the bundle itself, the one copy of the scheduler or
// of the free-running primitives that runs it (src/cli/loader.ts). Left outside: esbuild
// and typescript (started only when needed), tsx (registered for model files), piscina
// (it finds its own worker script beside itself).
//
// Usage: node scripts/bundle_cli.mjs [ROOT [OUTDIR]]   (defaults: this package, ROOT/dist)
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const NODE_REQUIRE =
  "import { createRequire as slabsimRequire } from 'node:module';\nconst require = slabsimRequire(import.meta.url);";

/**
 * api: the entry of src/ the bundle exports as well ('index': slabsim's API, 'index.fast':
 * its free-running form); a bundle with one runs in Node only (a require() for the
 * CommonJS packages inside).
 */
const BUNDLES = [
  { entry: "export { main } from './src/cli/main.ts';", out: 'src/cli/slabsim.js', root: '../../../', api: 'index' },
  { entry: "export { default } from './workers/explore.ts';", out: 'workers/explore.js', root: '../../', api: 'index' },
  { entry: "export { default } from './workers/stress.ts';", out: 'workers/stress.js', root: '../../', api: 'index.fast' },
  // A workload's CPU runs no model (no API), and the viewer's page bundles this file
  // again for its own CPU workers: nothing of Node's in it.
  { entry: "export { default } from './workers/cpu.ts';", out: 'workers/cpu.js', root: '../../' },
];

/** Make the bundles of ROOT's sources under OUTDIR (ROOT/dist by default). */
export async function bundleCli(root, outdir = join(root, 'dist')) {
  await Promise.all(
    BUNDLES.map((b) =>
      build({
        absWorkingDir: root,
        stdin: {
          contents: b.api ? `${b.entry}\nexport * from './src/${b.api}.ts';\n` : b.entry,
          resolveDir: root,
          loader: 'ts',
          sourcefile: b.out,
        },
        outfile: join(outdir, b.out),
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        external: ['esbuild', 'typescript', 'tsx', 'tsx/*', 'piscina'],
        // The CommonJS packages inside (commander, zod, cli-progress) require() Node's own modules.
        banner: b.api ? { js: NODE_REQUIRE } : undefined,
        define: { SLABSIM_BUNDLE_ROOT: JSON.stringify(b.root), SLABSIM_BUNDLE_API: JSON.stringify(b.api ?? '') },
        logLevel: 'silent',
      }),
    ),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [root = fileURLToPath(new URL('..', import.meta.url)), outdir] = process.argv.slice(2);
  await bundleCli(resolve(root), outdir && resolve(outdir));
}
