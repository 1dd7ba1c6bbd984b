// The viewer's files, built in memory when `slabsim view` starts: esbuild bundles the
// page and its two workers from this package's own modules (the TypeScript sources in a
// checkout, dist/ in an installed package), with a --model file bundled into the step
// worker. `slabsim` in a model file resolves to the same copy of slabsim the rest of the
// bundle uses, so its primitives and the scheduler share one schedule-point bus.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { ModelError } from '../errors.js';
import { srcModule } from '../package_files.js';
import { PAGE_CSS, pageHtml } from './html.js';

export interface Asset {
  type: string;
  body: string | Uint8Array;
}

/** A model file to bundle into the step worker. */
export interface ViewModelFile {
  /** absolute path */
  path: string;
  /** as the user gave it, for messages */
  file: string;
  exportName?: string;
}

/** A module of src/ (as the running copy has it), by its path there without extension. */
const own = (path: string): string => fileURLToPath(srcModule(path));
const require = createRequire(import.meta.url);
/** esbuild, loaded when first needed: require() of its CommonJS entry takes a sixth of an import's 90 ms. */
const esbuild = (): typeof import('esbuild') => require('esbuild') as typeof import('esbuild');

const JS = 'text/javascript; charset=utf-8';

/** Stand-ins for Node-only packages that the bundled code reaches but never calls in a page. */
const STUBS: Record<string, string> = {
  // race/api.ts imports its worker pool only for explore({ workers > 1 }).
  piscina: `export class Piscina { constructor() { throw new Error('worker threads (piscina) do not exist in a browser page'); } }`,
};

function viewPlugin(models: readonly ViewModelFile[]): Plugin {
  return {
    name: 'slabsim-view',
    setup(b) {
      b.onResolve({ filter: /^slabsim-view:/ }, (a) => ({ path: a.path, namespace: 'slabsim-view' }));
      b.onLoad({ filter: /.*/, namespace: 'slabsim-view' }, () => ({
        // The step worker's entry: the worker with the user's modules.
        contents: [
          `import { startStepWorker } from ${JSON.stringify(own('view/step_worker'))};`,
          ...models.map((m, i) => `import * as user${i} from ${JSON.stringify(m.path)};`),
          `startStepWorker([${models
            .map((m, i) => `{ file: ${JSON.stringify(m.file)}, exportName: ${JSON.stringify(m.exportName)}, mod: user${i} }`)
            .join(', ')}]);`,
        ].join('\n'),
        resolveDir: dirname(own('view/step_worker')),
        loader: 'js',
      }));
      b.onResolve({ filter: /^slabsim(\/.*)?$/ }, (a) => {
        if (a.path === 'slabsim') return { path: own('index') };
        return { errors: [{ text: `${a.importer} imports ${a.path}: in the viewer a model may import 'slabsim' only` }] };
      });
      b.onResolve({ filter: /^piscina$/ }, (a) => ({ path: a.path, namespace: 'slabsim-stub' }));
      b.onLoad({ filter: /.*/, namespace: 'slabsim-stub' }, (a) => ({ contents: STUBS[a.path], loader: 'js' }));
      b.onResolve({ filter: /^node:/ }, (a) => ({
        errors: [{ text: `${a.importer} imports ${a.path}, which a browser does not have` }],
      }));
    },
  };
}

/**
 * Build every file the viewer serves: path -> asset. A model file that cannot be bundled
 * (a syntax error, an import a browser lacks) is one ModelError naming it.
 */
export async function buildViewer(models: readonly ViewModelFile[] = []): Promise<Map<string, Asset>> {
  let result;
  try {
    result = await esbuild().build({
      entryPoints: { page: own('view/page'), cpu: own('view/cpu_worker'), step: 'slabsim-view:step' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      outdir: '/',
      logLevel: 'silent',
      legalComments: 'none',
      plugins: [viewPlugin(models)],
    });
  } catch (e) {
    const first = (e as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
    const who = models.length ? `${models.map((m) => m.file).join(', ')}: ` : '';
    throw new ModelError(`${who}cannot bundle the viewer: ${where}${first?.text ?? (e as Error).message}`);
  }
  const files = new Map<string, Asset>();
  for (const f of result.outputFiles) files.set(f.path.replace(/^.*\//, '/'), { type: JS, body: f.contents });
  files.set('/index.html', { type: 'text/html; charset=utf-8', body: pageHtml() });
  files.set('/view.css', { type: 'text/css; charset=utf-8', body: PAGE_CSS });
  files.set('/uplot.css', { type: 'text/css; charset=utf-8', body: uplotCss() });
  return files;
}

/** uPlot's stylesheet, from the package. */
export const uplotCss = (): string => readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

const reportJs = new Map<string, string>();

/**
 * The script of an HTML report (src/report/page.ts by default; `slabsim trace`'s is
 * src/trace/page.ts) with uPlot, one IIFE to inline in a <script> element; each built
 * once per process. `entry` is a path in src/ without extension.
 */
export function reportScript(entry = 'report/page'): string {
  let js = reportJs.get(entry);
  if (js === undefined) {
    const out = esbuild().buildSync({
      entryPoints: [own(entry)],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      write: false,
      logLevel: 'silent',
      legalComments: 'none',
    });
    // Inside <script> only "</script" could end the element early.
    js = out.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
    reportJs.set(entry, js);
  }
  return js;
}
