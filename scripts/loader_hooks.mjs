// Module hooks for model files from a user's own project (registered by
// src/cli/loader.ts with node:module's register(), after tsx's, so these run first).
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
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isTwoWayText, transformText } from './twoway.mjs';

// require(), not import: importing the CommonJS compiler through the hook chain from
// inside a hook deadlocks on Node 20 (seen in worker threads).
const ts = createRequire(import.meta.url)('typescript');

const FAST = 'slabsim-fast';
/** specifier -> URL of the running copy: slabsim, slabsim/vitest, and slabsim/fast for the fast form */
let self = {};
/** file URL -> compiled fast twin, made by the registering thread */
let made = {};

export function initialize(data) {
  self = data.self;
  made = data.fast ?? {};
}

const isFast = (url) => url !== undefined && url.startsWith('file:') && new URL(url).searchParams.has(FAST);
const withoutQuery = (url) => url.split('?')[0];

function isTwoWayFile(url) {
  if (Object.hasOwn(made, withoutQuery(url))) return true;
  try {
    return isTwoWayText(readFileSync(fileURLToPath(withoutQuery(url)), 'utf8'));
  } catch {
    return false;
  }
}

export async function resolve(specifier, context, next) {
  const fast = isFast(context.parentURL);
  if (specifier === 'slabsim' || Object.hasOwn(self, specifier)) {
    const url = fast && specifier === 'slabsim' ? self['slabsim/fast'] : self[specifier];
    // On through the chain, so that tsx marks a .ts target as TypeScript.
    if (url) return next(url, context);
  }
  const r = await next(specifier, context);
  if (fast && r.url.startsWith('file:') && !isFast(r.url) && isTwoWayFile(r.url)) return { ...r, url: `${r.url}?${FAST}` };
  return r;
}

export async function load(url, context, next) {
  if (!isFast(url) || !isTwoWayFile(url)) return next(url, context);
  const ready = made[withoutQuery(url)];
  if (ready !== undefined) return { format: 'module', source: ready, shortCircuit: true };
  const file = fileURLToPath(withoutQuery(url));
  const fastText = transformText(readFileSync(file, 'utf8'), file);
  const js = ts.transpileModule(fastText, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
  return { format: 'module', source: js, shortCircuit: true };
}
