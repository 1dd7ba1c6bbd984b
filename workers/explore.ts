// An exploration worker: runs one share of a race exploration and returns its report.
// `stop` is the shared stop word (set by the main thread on Ctrl-C), checked between runs;
// `estimates` carries the DFS estimate back to be printed before the search.
import type { MessagePort } from 'node:worker_threads';
import { findModelInFile } from '../src/cli/model_files.js';
import { ModelError } from '../src/errors.js';
import { MODELS } from '../src/race/catalogue.js';
import { type ExploreOptions, type ExploreReport, explore } from '../src/race/explore.js';
import type { Model } from '../src/race/model.js';

/** A model a worker can find: built-in by name, or the model of that name in a file. */
export interface ModelRef {
  name: string;
  file?: string;
  /** the file compiled by the main thread (src/cli/model_bundle.ts), loaded without the model loader */
  compiled?: string;
}

export type ExploreTask = Omit<ExploreOptions, 'models' | 'onEstimate' | 'shouldStop' | 'replayCommand'> & {
  models: ModelRef[];
  stop?: Int32Array;
  estimates?: MessagePort;
};

async function find(ref: ModelRef): Promise<Model> {
  const found = ref.file
    ? await findModelInFile(ref.file, ref.name, false, ref.compiled)
    : MODELS.find((x) => x.name === ref.name);
  if (!found) throw new Error(`unknown model ${ref.name}${ref.file ? ` in ${ref.file}` : ''}`);
  return found;
}

/** What a task returns: its report, or a model's fault (an error's class does not cross threads). */
export type ExploreResult = { report: ExploreReport } | { modelError: { message: string; model?: string } };

export default async function runExploreTask(task: ExploreTask): Promise<ExploreResult> {
  const { stop, estimates, ...opts } = task;
  try {
    const models = await Promise.all(opts.models.map(find));
    const report = explore({
      ...opts,
      models,
      shouldStop: stop ? () => Atomics.load(stop, 0) !== 0 : undefined,
      onEstimate: estimates ? (model, profile, n) => estimates.postMessage({ model, profile, n }) : undefined,
    });
    return { report };
  } catch (e) {
    if (e instanceof ModelError) return { modelError: { message: e.message, model: e.model } };
    throw e;
  } finally {
    estimates?.close();
  }
}
