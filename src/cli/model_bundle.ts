// A model file compiled by esbuild into one ES module, which a thread imports from a
// data: URL: no module hooks, no tsx. On Node 20 those hooks cost a hooks thread with
// tsx's loader in it, about 0.3 s of CPU per thread that loads a model: the CLI's main
// thread, a `race`'s explore workers, each `stress` worker. The main thread compiles the
// file once (its generator form, kept for this process) and hands the module to its
// workers; stress compiles the free-running form for its workers as well.
//
// Only the plain case is compiled: the model's own files (TypeScript or JavaScript ES
// modules, outside node_modules and outside slabsim's own code) importing each other,
// `slabsim` and Node's own modules. Anything else (another package, require(),
// import.meta, a dynamic import, a file of slabsim's own, a syntax error) gives null, and
// the file loads through the model loader (src/cli/loader.ts), which handles every case
// and says what is wrong with a bad file.
import { readFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { FROM_SOURCE, PACKAGE_ROOT } from '../package_files.js';
import { COMPILED_ENTRY, MODEL_ENTRY_NAMES } from './loader.js';

const MARKER = '/* @two-way */';
/** What only the model loader handles (module-relative paths, CommonJS, imports at run time). */
const NOT_PLAIN = /\brequire\s*\(|\bimport\.meta\b|\bimport\s*\(|\b__dirname\b|\b__filename\b|\bmodule\.exports\b/;

class NotPlain extends Error {}

/**
 * `path` (absolute) and the files it imports as one ES module, or null when the graph is
 * not the plain case. `fast`: the free-running form, with the fast twins of its two-way
 * modules made by fastSources() (file URL -> JavaScript); a two-way module is taken in
 * that form where a module in that form imports it, as the model loader's
 * `?slabsim-fast` does.
 */
export function bundleModelFile(path: string, fast?: Readonly<Record<string, string>>): Promise<string | null> {
  if (fast !== undefined) return bundle(path, fast);
  let made = generatorForms.get(path);
  if (made === undefined) generatorForms.set(path, (made = bundle(path)));
  return made;
}

/**
 * What the CLI's threads import for a model file: bundleModelFile()'s module, or null.
 * From source every thread runs tsx anyway (the workers start through it), so nothing is
 * compiled there.
 */
export const compiledModelFile = (path: string, fast?: Readonly<Record<string, string>>): Promise<string | null> =>
  FROM_SOURCE ? Promise.resolve(null) : bundleModelFile(path, fast);

/** The generator forms made in this process, by path: the main thread loads a file, then hands it to its workers. */
const generatorForms = new Map<string, Promise<string | null>>();

async function bundle(path: string, fast?: Readonly<Record<string, string>>): Promise<string | null> {
  try {
    // Loaded here, when a model is first compiled (require(): a sixth of an import's CPU).
    const { build } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const out = await build({
      entryPoints: [path],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      plugins: [plainModelPlugin(path, fast)],
    });
    return out.outputFiles[0].text;
  } catch {
    return null;
  }
}

function plainModelPlugin(entry: string, fast: Readonly<Record<string, string>> | undefined): Plugin {
  // slabsim's own code, in any of its forms: a model importing it must share the running copy's modules.
  const own = ['src/', 'dist/', 'workers/'].map((d) => fileURLToPath(new URL(d, PACKAGE_ROOT)));
  // Which files are taken in their free-running form: the entry, then each two-way
  // module a file of that form imports. A file asked for in both forms is two modules
  // to the model loader and one here: not plain.
  const isFast = new Map<string, boolean>([[entry, fast !== undefined]]);
  const SELF = Symbol('resolving');
  return {
    name: 'slabsim-plain-model',
    setup(b) {
      b.onResolve({ filter: /^slabsim(\/.*)?$/ }, (a) => {
        const name = a.path === 'slabsim' && isFast.get(a.importer) ? 'slabsim/fast' : a.path;
        if (!MODEL_ENTRY_NAMES.includes(name)) throw new NotPlain(a.path);
        return { path: `${COMPILED_ENTRY}${name}`, external: true };
      });
      b.onResolve({ filter: /.*/ }, async (a) => {
        if (a.pluginData === SELF || a.kind === 'entry-point') return undefined;
        if (isBuiltin(a.path)) return { path: a.path, external: true };
        const r = await b.resolve(a.path, { kind: a.kind, importer: a.importer, resolveDir: a.resolveDir, pluginData: SELF });
        if (r.errors.length > 0 || r.external || r.path.includes('/node_modules/') || own.some((d) => r.path.startsWith(d)))
          throw new NotPlain(a.path);
        const asFast = (isFast.get(a.importer) ?? false) && readFileSync(r.path, 'utf8').startsWith(MARKER);
        if ((isFast.get(r.path) ?? asFast) !== asFast) throw new NotPlain(r.path);
        isFast.set(r.path, asFast);
        return { path: r.path };
      });
      b.onLoad({ filter: /.*/ }, (a) => {
        const text = readFileSync(a.path, 'utf8');
        if (/\.c[jt]s$/.test(a.path) || NOT_PLAIN.test(text)) throw new NotPlain(a.path);
        if (!isFast.get(a.path) || !text.startsWith(MARKER)) return undefined;
        const twin = fast?.[pathToFileURL(a.path).href];
        if (twin === undefined) throw new NotPlain(a.path);
        return { contents: twin, loader: 'js' };
      });
    },
  };
}
