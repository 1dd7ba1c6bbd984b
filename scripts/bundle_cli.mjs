// The CLI as one file: src/cli/entry.ts and everything it imports, the small packages
// included, bundled into dist/src/cli/slabsim.js, which bin/slabsim.mjs runs.
//
// Why: Node 20 loads an ES module graph file by file, and the CLI reaches some 220
// modules: 0.85 s of CPU before `slabsim list` prints anything, 0.4 s as one file
// (docs/architecture.md, "The CLI as one file"). The unbundled dist/ stays for the
// library (`import ... from 'slabsim'`), the worker threads and the viewer's page.
//
// Left outside the file: esbuild and typescript (the viewer and the model loader start
// them only when needed), tsx (registered for model files), piscina (it finds its own
// worker script beside itself). The file sits in dist/src/cli/, where the unbundled
// main.js is, so that the paths the CLI finds from its own URL (workers, bin/, scripts/)
// are the same in both.
//
// Usage: node scripts/bundle_cli.mjs [ROOT [OUTDIR]]   (defaults: this package, ROOT/dist)
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const EXTERNAL = ['esbuild', 'typescript', 'tsx', 'tsx/*', 'piscina'];

/** Bundle ROOT/src/cli/entry.ts into OUTDIR/src/cli/slabsim.js; its path. */
export async function bundleCli(root, outdir = join(root, 'dist')) {
  const outfile = join(outdir, 'src', 'cli', 'slabsim.js');
  await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/entry.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // The CommonJS packages inside (commander, zod, cli-progress) call require() for
    // Node's own modules: give the file one.
    banner: {
      js: "import { createRequire as slabsimRequire } from 'node:module';\nconst require = slabsimRequire(import.meta.url);",
    },
    define: { SLABSIM_BUNDLE: 'true' },
    logLevel: 'silent',
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [root = resolve(fileURLToPath(new URL('..', import.meta.url))), outdir] = process.argv.slice(2);
  await bundleCli(resolve(root), outdir && resolve(outdir));
}
