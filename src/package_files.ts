// Where this package's own files are, for the running copy of its code: the TypeScript
// sources through tsx (src/**.ts), the compiled tree (dist/src/**.js), or one of the
// bundles scripts/bundle_cli.mjs makes (dist/src/cli/slabsim.js, dist/workers/*.js),
// which says where the package root is relative to itself. One module answers, so that
// code moved into a bundle still finds the workers, bin/ and scripts/. No node: import:
// the explorer imports it, and it bundles for a browser page.

declare const SLABSIM_BUNDLE_ROOT: string | undefined;
declare const SLABSIM_BUNDLE_API: string | undefined;

/** Running the TypeScript sources (tsx, vitest), not compiled code. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Running inside one of the bundles of scripts/bundle_cli.mjs. */
export const IN_BUNDLE = typeof SLABSIM_BUNDLE_ROOT === 'string';

/** Which of slabsim's entries a bundle exports as well ('index', 'index.fast'); '' for none or outside a bundle. */
export const BUNDLE_API: string = typeof SLABSIM_BUNDLE_API === 'string' ? SLABSIM_BUNDLE_API : '';

/** The package root (with its trailing slash); outside a bundle this module is src/package_files.ts or dist/src/package_files.js. */
export const PACKAGE_ROOT: URL = new URL(
  typeof SLABSIM_BUNDLE_ROOT === 'string' ? SLABSIM_BUNDLE_ROOT : FROM_SOURCE ? '../' : '../../',
  import.meta.url,
);

/** A file of the package by its path from the root. */
export const packageFile = (path: string): URL => new URL(path, PACKAGE_ROOT);

/** A module of src/ by its path there without extension ('index', 'view/page'), as the running copy has it. */
export const srcModule = (path: string): URL => packageFile(FROM_SOURCE ? `src/${path}.ts` : `dist/src/${path}.js`);

/**
 * The file a worker thread starts from for workers/NAME.ts: dist/workers/NAME.js when
 * built; from source workers/boot.mjs, which registers tsx first (Node 20 will not load a
 * .ts file as a worker) and imports the entry named in the pool's workerData.
 */
export const workerFile = (name: 'cpu' | 'explore' | 'stress'): string =>
  packageFile(FROM_SOURCE ? 'workers/boot.mjs' : `dist/workers/${name}.js`).href;
