// The free-running form of a user's two-way modules, made once on the main thread and
// handed to every stress worker's module hooks (scripts/loader_hooks.mjs), so that no
// worker loads the TypeScript compiler. Nothing is written to the user's tree.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type TS from 'typescript';
import { ModelError } from '../errors.js';
import { packageFile } from '../package_files.js';

type Twoway = {
  isTwoWayText(text: string): boolean;
  transformText(text: string, file: string): string;
};

const require = createRequire(import.meta.url);
const twowayUrl = packageFile('scripts/twoway.mjs');

/**
 * Every two-way module `entry` reaches through relative imports (itself included, if it
 * is one), as compiled JavaScript of its fast twin: file URL -> source.
 */
export async function fastSources(entry: string): Promise<Record<string, string>> {
  const ts = require('typescript') as typeof TS;
  const { isTwoWayText, transformText } = (await import(twowayUrl.href)) as Twoway;
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // not a file of ours to transform: the loader reports it if it matters
    }
    if (!isTwoWayText(text)) return;
    let fast: string;
    try {
      fast = transformText(text, file);
    } catch (e) {
      throw new ModelError(`${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    out[pathToFileURL(file).href] = ts.transpileModule(fast, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    for (const spec of relativeImports(ts, text, file)) for (const f of candidates(resolve(dirname(file), spec))) visit(f);
  };
  visit(resolve(entry));
  return out;
}

function relativeImports(ts: typeof TS, text: string, file: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  for (const s of sf.statements) {
    if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) {
      const spec = s.moduleSpecifier.text;
      if (spec.startsWith('.')) specs.push(spec);
    }
  }
  return specs;
}

/** The files a relative specifier may mean (TypeScript's `./x.js` is often `./x.ts`). */
function candidates(path: string): string[] {
  const base = path.replace(/\.(m?js)$/, '');
  return [path, `${base}.ts`, `${base}.mts`];
}
