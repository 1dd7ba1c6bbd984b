// Loading model files from a user's own project: TypeScript through tsx, `slabsim`
// resolved to the running copy, and the free-running form of two-way modules on request
// (scripts/loader_hooks.mjs). Registered once per thread, before the first model loads.
import * as nodeModule from 'node:module';

/** Set by bin/slabsim.mjs when it has registered tsx already (a run from source). */
const TSX_KEY = Symbol.for('slabsim.tsx');
let registered = false;

declare const SLABSIM_BUNDLE: boolean | undefined;
/** Set by scripts/bundle_cli.mjs in the CLI's one-file bundle. */
const BUNDLED = typeof SLABSIM_BUNDLE !== 'undefined' && SLABSIM_BUNDLE;

const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? 'ts' : 'js';
/** The package root: two levels above src/cli, three above dist/src/cli. */
const root = new URL(fromSource ? '../../' : '../../../', import.meta.url);

/**
 * Register the hooks (once per thread: the first call decides). `fast`: twins made in
 * advance by fastSources(), so that this thread's hooks need no compiler.
 */
export async function registerModelLoader(fast?: Record<string, string>): Promise<void> {
  if (registered) return;
  registered = true;
  const g = globalThis as Record<symbol, unknown>;
  if (!g[TSX_KEY]) {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    g[TSX_KEY] = true;
  }
  const self = {
    // The bundled CLI is itself the API (src/cli/entry.ts). The free-running and vitest
    // entries stay dist/'s: the first loads only on stress's worker threads (which run
    // dist/, not the bundle), the second only under vitest.
    slabsim: BUNDLED ? import.meta.url : new URL(`../index.${ext}`, import.meta.url).href,
    'slabsim/fast': new URL(`../index.fast.${ext}`, import.meta.url).href,
    'slabsim/vitest': new URL(`../vitest.${ext}`, import.meta.url).href,
  };
  const hooksUrl = new URL('scripts/loader_hooks.mjs', root);
  // Where tsx installs in-thread hooks (module.registerHooks, Node >= 22.15), only
  // hooks of that kind run before its own; elsewhere both use module.register().
  const inThread = (nodeModule as { registerHooks?: (hooks: object) => unknown }).registerHooks;
  if (inThread) {
    const { makeHooks } = (await import(hooksUrl.href)) as { makeHooks: (data: object) => object };
    inThread(makeHooks({ self, fast }));
  } else {
    nodeModule.register(hooksUrl, { data: { self, fast } });
  }
}

/** The URL that imports `file` in its free-running form (two-way modules as their fast twins). */
export const fastUrl = (fileUrl: string): string => `${fileUrl}?slabsim-fast`;
