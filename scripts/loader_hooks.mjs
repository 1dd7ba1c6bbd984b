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
//    entry there. Modules without the marker load as they are.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { isTwoWayText, transformText } from './twoway.mjs';

const FAST = 'slabsim-fast';
/** specifier -> URL of the running copy: slabsim, slabsim/vitest, and slabsim/fast for the fast form */
let self = {};

export function initialize(data) {
  self = data.self;
}

const isFast = (url) => url !== undefined && url.startsWith('file:') && new URL(url).searchParams.has(FAST);
const withoutQuery = (url) => url.split('?')[0];

function isTwoWayFile(url) {
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
    if (url) return { url, shortCircuit: true };
  }
  const r = await next(specifier, context);
  if (fast && r.url.startsWith('file:') && !isFast(r.url) && isTwoWayFile(r.url)) return { ...r, url: `${r.url}?${FAST}` };
  return r;
}

export async function load(url, context, next) {
  if (!isFast(url) || !isTwoWayFile(url)) return next(url, context);
  const file = fileURLToPath(withoutQuery(url));
  const fastText = transformText(readFileSync(file, 'utf8'), file);
  const js = ts.transpileModule(fastText, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
  return { format: 'module', source: js, shortCircuit: true };
}
