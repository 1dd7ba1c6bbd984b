// The CLI as one file, and the worker threads it starts most: src/cli/main.ts's main()
// and everything it reaches, the small packages included, bundled into
// dist/src/cli/slabsim.js (which bin/slabsim.mjs imports to call main()), and
// workers/explore.ts and workers/cpu.ts each into one file in place of their compiled
// dist/workers/*.js.
//
// Why: Node 20 loads an ES module graph file by file, and the CLI reaches some 220
// modules: 0.88 s of CPU before `slabsim list` prints anything, 0.5 s as one file; a
// `race` explores on a worker thread, which starts in 0.1 s of CPU instead of 0.3 s
// (docs/architecture.md, "The CLI as one file"). The rest of dist/ stays as tsc wrote it:
// the library (`import ... from 'slabsim'`), stress's workers (which load a model's
// free-running form against dist/src/index.fast.js) and the viewer's page.
//
// A bundle says where the package root is relative to itself (SLABSIM_BUNDLE_ROOT, read
// by src/package_files.ts), and exports slabsim's API: a model file loaded there gets
// `slabsim` from the bundle itself, the one copy of the scheduler that runs it
// (src/cli/loader.ts). Left outside: esbuild and typescript (started only when needed),
// tsx (registered for model files), piscina (it finds its own worker script beside itself).
//
// Usage: node scripts/bundle_cli.mjs [ROOT [OUTDIR]]   (defaults: this package, ROOT/dist)
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const NODE_REQUIRE =
  "import { createRequire as slabsimRequire } from 'node:module';\nconst require = slabsimRequire(import.meta.url);";

/** node: the bundle runs in Node only (a require() for the CommonJS packages inside) and exports slabsim's API. */
const BUNDLES = [
  { entry: "export { main } from './src/cli/main.ts';", out: 'src/cli/slabsim.js', root: '../../../', node: true },
  { entry: "export { default } from './workers/explore.ts';", out: 'workers/explore.js', root: '../../', node: true },
  // A workload's CPU runs no model (no API), and the viewer's page bundles this file
  // again for its own CPU workers: nothing of Node's in it.
  { entry: "export { default } from './workers/cpu.ts';", out: 'workers/cpu.js', root: '../../', node: false },
];

/** Make the bundles of ROOT's sources under OUTDIR (ROOT/dist by default). */
export async function bundleCli(root, outdir = join(root, 'dist')) {
  await Promise.all(
    BUNDLES.map((b) =>
      build({
        absWorkingDir: root,
        stdin: {
          contents: b.node ? `${b.entry}\nexport * from './src/index.ts';\n` : b.entry,
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
        banner: b.node ? { js: NODE_REQUIRE } : undefined,
        define: { SLABSIM_BUNDLE_ROOT: JSON.stringify(b.root) },
        logLevel: 'silent',
      }),
    ),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [root = fileURLToPath(new URL('..', import.meta.url)), outdir] = process.argv.slice(2);
  await bundleCli(resolve(root), outdir && resolve(outdir));
}
