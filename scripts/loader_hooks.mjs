// Module hooks for model files from a user's own project (installed by src/cli/loader.ts
// after tsx's, so that they run before them).
//
// 1. `slabsim`, `slabsim/vitest`: always the copy of slabsim that is running. A model
//    must share the scheduler's module instances (the schedule-point bus, the site
//    registry): a second copy of slabsim would make its primitives invisible.
// 2. Free-running form: a module imported with `?slabsim-fast` is loaded as its fast
//    twin when its first line is the two-way marker (scripts/twoway.mjs transforms it,
//    in memory; nothing is written to the user's tree), and the query spreads to the
//    relative imports of such a module, while `slabsim` resolves to slabsim's fast
//    entry there. Modules without the marker load as they are. Twins made in advance
//    (src/cli/fast_sources.ts, handed over in `data.fast`) are taken as they are.
//
// 3. ES modules, whatever the project's `type`: a model file (or a file it imports) of
//    the user's own, outside node_modules, written with import/export, loads as an ES
//    module even in a CommonJS project (`npm init -y` writes `"type": "commonjs"`).
//    Compiled to CommonJS, its `import ... from 'slabsim'` would become a require() of
//    an ES module (refused in a cycle on Node 20) or of our file URL (not found on 24).
//
// The same hooks serve both of Node's hook APIs: module.registerHooks() (in-thread,
// synchronous: where tsx uses it, Node >= 22.15, only hooks of that kind run before
// tsx's) and module.register() (a hooks thread, asynchronous: Node 20). `next` returns
// a value in the first and a promise in the second; after() handles both.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isTwoWayText, transformText } from './twoway.mjs';

const FAST = 'slabsim-fast';
const isFast = (url) => url !== undefined && url.startsWith('file:') && new URL(url).searchParams.has(FAST);
const withoutQuery = (url) => url.split('?')[0];
const after = (value, f) => (value instanceof Promise ? value.then(f) : f(value));

/**
 * The hooks for `data`: `self` maps slabsim, slabsim/vitest and slabsim/fast to the
 * running copy's URLs; `fast` maps file URLs to compiled fast twins made in advance.
 */
export function makeHooks(data) {
  const self = data.self;
  const made = data.fast ?? {};
  const isTwoWayFile = (url) => {
    if (Object.hasOwn(made, withoutQuery(url))) return true;
    try {
      return isTwoWayText(readFileSync(fileURLToPath(withoutQuery(url)), 'utf8'));
    } catch {
      return false;
    }
  };
  return {
    resolve(specifier, context, next) {
      const fast = isFast(context.parentURL);
      if (specifier === 'slabsim' || Object.hasOwn(self, specifier)) {
        const url = fast && specifier === 'slabsim' ? self['slabsim/fast'] : self[specifier];
        // On through the chain, so that tsx marks a .ts target as TypeScript.
        if (url) return next(url, context);
      }
      // A module asked for in its free-running form: resolve the module, then mark it
      // (asked for the URL with its query, tsx looks for a file of that name in a
      // CommonJS project on Node 24).
      if (isFast(specifier))
        return after(next(withoutQuery(specifier), context), (r) => {
          const marked = { ...r, url: `${withoutQuery(r.url)}?${FAST}` };
          return isUsersEsmInCommonJs(marked) ? { ...marked, format: 'module' } : marked;
        });
      return after(next(specifier, context), (r) => {
        if (fast && r.url.startsWith('file:') && !isFast(r.url) && isTwoWayFile(r.url)) return { ...r, url: `${r.url}?${FAST}` };
        return isUsersEsmInCommonJs(r) ? { ...r, format: 'module' } : r;
      });
    },
    load(url, context, next) {
      if (!isFast(url) || !isTwoWayFile(url)) return next(url, context);
      const ready = made[withoutQuery(url)];
      return { format: 'module', source: ready ?? compileFast(fileURLToPath(withoutQuery(url))), shortCircuit: true };
    },
  };
}

const COMMONJS = new Set(['commonjs', 'commonjs-typescript']);
const ESM_SYNTAX = /^\s*(import\s*[\w{*'"]|export\s)/m;

/**
 * A file of the user's (not in node_modules, not .cjs/.cts) that the project's `type`
 * makes CommonJS but that is written as an ES module.
 */
function isUsersEsmInCommonJs(r) {
  if (!COMMONJS.has(r.format) || !r.url.startsWith('file:') || r.url.includes('/node_modules/')) return false;
  const path = fileURLToPath(withoutQuery(r.url));
  if (!/\.(ts|js)$/.test(path)) return false;
  try {
    return ESM_SYNTAX.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

/** A two-way module's fast twin, compiled here (when it was not made in advance). */
function compileFast(file) {
  // require(), not import: importing the CommonJS compiler through the hook chain from
  // inside a hook deadlocks on Node 20 (seen in worker threads).
  const ts = createRequire(import.meta.url)('typescript');
  return ts.transpileModule(transformText(readFileSync(file, 'utf8'), file), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
}

// ---- module.register(): the hooks thread's entry points ----

let hooks = null;

export function initialize(data) {
  hooks = makeHooks(data);
}

export async function resolve(specifier, context, next) {
  return hooks.resolve(specifier, context, next);
}

export async function load(url, context, next) {
  return hooks.load(url, context, next);
}
