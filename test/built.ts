// The CLI and the worker threads of the tests as JavaScript: the sources compiled once
// per vitest invocation (by test/global_setup.ts, esbuild, under a second) into the layout
// `npm run build` makes, so that a CLI child starts in a third of the CPU time tsx takes
// (~0.5 s instead of ~1.4 s on the CI machine: the CLI is one file) and a worker thread
// in a tenth to a quarter (0.1-0.25 s instead of ~1 s). It is the code of the working
// tree as it is when vitest starts, as tsx would run it.
//
// Layout, under node_modules/.cache/slabsim-test/run-<pid>-<random>/ (one per
// invocation, removed at its end; two invocations never share one):
//   package.json   {"type": "module"}: Node's search for the package.json that says how
//                  to load a .js file stops at node_modules/, so the copy says it itself
//   scripts/       the repository's scripts/*.mjs (the model loader's hooks, the two-way transform)
//   bin/           bin/slabsim.mjs, which finds no src/ beside it and runs dist/, as installed
//   dist/src/, dist/workers/   every .ts of src/ and workers/ (fast twins included) as .js,
//                  then the bundles of scripts/bundle_cli.mjs as `npm run build` makes them:
//                  dist/src/cli/slabsim.js, and dist/workers/explore.js, stress.js and cpu.js replaced
// The built code finds the package root as in a build (src/package_files.ts); packages
// resolve from the repository's node_modules by Node's search upwards.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(root, 'node_modules', '.cache', 'slabsim-test');

/** Compile src/ and workers/ into a new private directory; its path. */
export async function buildForTests(): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  pruneAbandoned();
  // Imported here: the test files that import this module for builtBin() need neither.
  const { build } = await import('esbuild');
  // @ts-expect-error: a plain .mjs script without types
  const { bundleCli } = await import('../scripts/bundle_cli.mjs');
  const dir = mkdtempSync(join(CACHE, `run-${process.pid}-`));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  cpSync(join(root, 'scripts'), join(dir, 'scripts'), { recursive: true, filter: (f) => !f.endsWith('.sh') });
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  try {
    await build({
      absWorkingDir: root,
      entryPoints: ['src/**/*.ts', 'workers/*.ts'],
      outbase: '.',
      outdir: join(dir, 'dist'),
      bundle: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
    await bundleCli(root, join(dir, 'dist'));
  } catch (e) {
    removeBuild(dir);
    throw e;
  }
  return dir;
}

export function removeBuild(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The directories of invocations that ended without removing theirs (killed): their process is gone. */
function pruneAbandoned(): void {
  for (const name of readdirSync(CACHE)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (!pid || alive(pid)) continue;
    const path = join(CACHE, name);
    if (existsSync(path)) removeBuild(path);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What global_setup.ts hands the test files: the directory, or why the sources did not compile. */
export type FoundBuild = { dir: string } | { error: string };

/** The directory of a build that succeeded; a failed one fails the test that needs it, with esbuild's message. */
export function builtDir(found: FoundBuild): string {
  if ('error' in found) throw new Error(`the sources did not compile for the tests: ${found.error}`);
  return found.dir;
}

/** bin/slabsim.mjs in a directory buildForTests() made: it runs that directory's dist/, as in an installed package. */
export const builtBin = (dir: string): string => join(dir, 'bin', 'slabsim.mjs');

/**
 * The compiled twin of a module of src/ (`path` relative to src/, as `workload/workers.js`),
 * loaded by Node itself: what it starts on worker threads loads compiled code too.
 */
export const importBuilt = (dir: string, path: string): Promise<unknown> =>
  import(pathToFileURL(join(dir, 'dist', 'src', path)).href);
