// Loading model files from a user's own project: TypeScript through tsx, `slabsim`
// resolved to the running copy, and the free-running form of two-way modules on request
// (scripts/loader_hooks.mjs). Registered once per thread, before the first model loads.
import * as nodeModule from 'node:module';
import { BUNDLE_API, packageFile, srcModule } from '../package_files.js';

/** Set by bin/slabsim.mjs when it has registered tsx already (a run from source). */
const TSX_KEY = Symbol.for('slabsim.tsx');
let registering: Promise<void> | undefined;

/**
 * Register the hooks (once per thread: the first call decides). `fast`: twins made in
 * advance by fastSources(), so that this thread's hooks need no compiler. Every caller
 * waits for the registration itself: a worker imports its model files at once, and a
 * second import that went ahead while the first call still awaited (tsx's API, the hooks'
 * module on Node 24) loaded its file without the hooks.
 */
export function registerModelLoader(fast?: Record<string, string>): Promise<void> {
  registering ??= register(fast);
  return registering;
}

async function register(fast: Record<string, string> | undefined): Promise<void> {
  const g = globalThis as Record<symbol, unknown>;
  if (!g[TSX_KEY]) {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    g[TSX_KEY] = true;
  }
  const self = modelEntries();
  const hooksUrl = packageFile('scripts/loader_hooks.mjs');
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

/** The entries of slabsim a model file may import. */
export const MODEL_ENTRY_NAMES: readonly string[] = ['slabsim', 'slabsim/fast', 'slabsim/vitest'];

/** An entry's name -> the URL of this thread's copy of it. */
export type ModelEntries = Readonly<Record<string, string>>;

/** What a model file's imports of slabsim's entries get on this thread: the running copy. */
export function modelEntries(): ModelEntries {
  return {
    // A bundle is itself the entry it exports (scripts/bundle_cli.mjs): the API in the
    // CLI's and an explore worker's, the free-running form in a stress worker's. The
    // other entries stay dist/'s (or src/'s): the vitest entry loads only under vitest.
    slabsim: BUNDLE_API === 'index' ? import.meta.url : srcModule('index').href,
    'slabsim/fast': BUNDLE_API === 'index.fast' ? import.meta.url : srcModule('index.fast').href,
    'slabsim/vitest': srcModule('vitest').href,
  };
}

/** The URL that imports `file` in its free-running form (two-way modules as their fast twins). */
export const fastUrl = (fileUrl: string): string => `${fileUrl}?slabsim-fast`;

/** How a model compiled for worker threads (src/cli/model_bundle.ts) names an entry of slabsim. */
export const COMPILED_ENTRY = 'slabsim-entry:';

/** A compiled model with each entry of slabsim it imports as this thread has it: the source to import. */
export function withEntries(compiled: string): string {
  const entries = modelEntries();
  const named = new RegExp(`(["'])${COMPILED_ENTRY}([^"']+)\\1`, 'g');
  return compiled.replace(named, (_, _q, name: string) => JSON.stringify(entries[name]));
}
