// Model files from a user's own project: `slabsim race --model ./path/model.ts` (or
// .js/.mjs). A file's default export, or the export named by --export, is a model (from
// defineModel()) or a list of models. Every problem is one ModelError naming the file.
// A file loads compiled where it is plain (src/cli/model_bundle.ts), otherwise through
// the model loader's hooks (src/cli/loader.ts).
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { ModelError } from '../errors.js';
import { checkModel, type Model } from '../race/model.js';
import { invocation } from './invocation.js';
import { fastUrl, registerModelLoader, withEntries } from './loader.js';
import { compiledModelFile } from './model_bundle.js';

/** A model and where it came from, for replay commands. */
export interface FileModel {
  model: Model;
  /** the path as the user gave it */
  file: string;
  /** the export it came from ('default' for the default export) */
  exportName: string;
}

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/**
 * Load the models of one file. `exportName` picks an export (default: the default
 * export); `fast` loads the free-running form (two-way modules as their fast twins).
 */
export async function loadModelFile(file: string, exportName?: string, fast = false): Promise<FileModel[]> {
  const { path, mod } = await importModelModule(file, fast);
  const name = exportName ?? 'default';
  if (!Object.hasOwn(mod, name)) {
    const names = Object.keys(mod);
    const have = names.length ? `its exports: ${names.join(', ')}` : 'it has no exports';
    throw new ModelError(
      exportName
        ? `${file}: no export named '${exportName}' (${have})`
        : `${file}: no default export (expected a model from defineModel(); ${have}; pick one with --export NAME)`,
    );
  }
  const value = mod[name];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new ModelError(`${file}: export '${name}' is an empty list (expected models)`);
  return list.map((x, i) => {
    const where = `${file}: export '${name}'${Array.isArray(value) ? `[${i}]` : ''}`;
    const model = checkModel(x, where);
    return { model: loadedFrom(model, path), file, exportName: name };
  });
}

/**
 * The model called `name` among all the exports of a file (a worker thread looking up its
 * task's model). `compiled`: the file compiled by the main thread for this form
 * (src/cli/model_bundle.ts), imported as it is, without the model loader.
 */
export async function findModelInFile(file: string, name: string, fast = false, compiled?: string): Promise<Model | undefined> {
  const { path, mod } = await importModelModule(file, fast, compiled);
  const found = namedModel(mod, name);
  if (!found) return undefined;
  const model = checkModel(found.value, `${file}: model '${name}'`);
  return loadedFrom(model, path);
}

/**
 * The model with the file it was loaded from as its source: that file exports it, where the
 * file defineModel() was called in need not (a model built by a helper in another module
 * and exported from the model file). Worker threads and printed replay commands use it.
 */
const loadedFrom = (model: Model, path: string): Model => ({ ...model, source: path });

/** Every export (the default export first) that is, or lists, something named like a model. */
function namedValues(mod: Record<string, unknown>): Array<{ exportName: string; value: unknown; name: string }> {
  const keys = Object.keys(mod).sort((a, b) => Number(b === 'default') - Number(a === 'default'));
  return keys.flatMap((exportName) => {
    const value = mod[exportName];
    return (Array.isArray(value) ? value : [value]).flatMap((x) =>
      typeof x === 'object' && x !== null && typeof (x as Model).name === 'string'
        ? [{ exportName, value: x, name: (x as Model).name }]
        : [],
    );
  });
}

const namedModel = (mod: Record<string, unknown>, name: string) => namedValues(mod).find((v) => v.name === name);

/**
 * The models a schedule string can replay, from model files given without --export: the
 * export whose model has the name the schedule names (so that a printed `replay --model
 * FILE` needs no --export); when no file has it, every model of the files (and the
 * schedule is then refused as naming none of them).
 */
export async function loadModelFilesFor(files: readonly string[], modelName: string): Promise<FileModel[]> {
  const all: FileModel[] = [];
  for (const file of files) {
    const { path, mod } = await importModelModule(file, false);
    for (const { exportName, value, name } of namedValues(mod)) {
      if (all.some((x) => x.model.name === name)) continue;
      const model = checkModel(value, `${file}: export '${exportName}'`);
      const fm = { model: loadedFrom(model, path), file, exportName };
      if (name === modelName) return [fm];
      all.push(fm);
    }
  }
  return all;
}

async function importModelModule(
  file: string,
  fast: boolean,
  compiled?: string,
): Promise<{ path: string; mod: Record<string, unknown> }> {
  const path = resolve(file);
  let url: string;
  if (compiled === undefined) {
    if (!existsSync(path) || !statSync(path).isFile()) throw new ModelError(`${file}: no such file`);
    if (!EXTENSIONS.some((e) => path.endsWith(e))) throw new ModelError(`${file}: expected a .ts, .mts, .js or .mjs file`);
    // The main thread compiles a plain file itself (its workers get the same module); a
    // worker without a compiled module has a file the main thread left to the hooks.
    if (isMainThread && !fast) compiled = (await compiledModelFile(path)) ?? undefined;
  }
  if (compiled === undefined) {
    await registerModelLoader();
    url = fast ? fastUrl(pathToFileURL(path).href) : pathToFileURL(path).href;
  } else {
    url = `data:text/javascript,${encodeURIComponent(withEntries(compiled))}`;
  }
  try {
    return { path, mod: (await import(url)) as Record<string, unknown> };
  } catch (e) {
    // defineModel() refusing a model's shape at load time says what is wrong by itself.
    if (e instanceof Error && e.name === 'ModelError') throw new ModelError(`${file}: ${e.message}`);
    throw new ModelError(`${file}: cannot load it: ${firstLine(e)}`);
  }
}

/** The models of several --model flags; two models of one name are refused (schedules name them). */
export async function loadModelFiles(files: readonly string[], exportName?: string, fast = false): Promise<FileModel[]> {
  const out: FileModel[] = [];
  for (const f of files) out.push(...(await loadModelFile(f, exportName, fast)));
  const seen = new Map<string, string>();
  for (const { model, file } of out) {
    const before = seen.get(model.name);
    if (before !== undefined)
      throw new ModelError(
        `${file}: a model named '${model.name}' is also in ${before} (schedule strings name models: names must differ)`,
      );
    seen.set(model.name, file);
  }
  return out;
}

/** A bug of a file's model, said with the file's name in front (the CLI's one line). */
export function inFile(e: unknown, models: readonly FileModel[]): unknown {
  if (!(e instanceof ModelError) || e.model === undefined) return e;
  const fm = models.find((x) => x.model.name === e.model);
  return fm ? new ModelError(`${fm.file}: ${e.message}`) : e;
}

/** The command that replays a schedule of a model from a file. */
export function fileReplayCommand(fm: FileModel, schedule: string): string {
  const exp = fm.exportName === 'default' ? '' : ` --export ${fm.exportName}`;
  return `${invocation()} replay '${schedule}' --model ${fm.file}${exp} --trace`;
}

/** One line of an error, without the stack (tsx and esbuild errors span several). */
function firstLine(e: unknown): string {
  // esbuild's "Transform failed with 1 error:" names the place on a later line.
  const syntax = e instanceof Error ? /:(\d+):(\d+): ERROR: (.*)/.exec(e.message) : null;
  if (syntax) return `syntax error at line ${syntax[1]}:${syntax[2]}: ${syntax[3]}`;
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? 'unknown error'
  );
}
