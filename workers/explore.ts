// An exploration worker: runs one share of a race exploration and returns its report.
// `stop` is the shared stop word (set by the main thread on Ctrl-C), checked between runs;
// `estimates` carries the DFS estimate back to be printed before the search.
import type { MessagePort } from 'node:worker_threads';
import { MODELS } from '../src/race/catalogue.js';
import { type ExploreOptions, type ExploreReport, explore } from '../src/race/explore.js';

export type ExploreTask = Omit<ExploreOptions, 'models' | 'onEstimate' | 'shouldStop'> & {
  modelNames: string[];
  stop?: Int32Array;
  estimates?: MessagePort;
};

export default function runExploreTask(task: ExploreTask): ExploreReport {
  const { modelNames, stop, estimates, ...opts } = task;
  const models = modelNames.map((name) => {
    const m = MODELS.find((x) => x.name === name);
    if (!m) throw new Error(`unknown model ${name}`);
    return m;
  });
  try {
    return explore({
      ...opts,
      models,
      shouldStop: stop ? () => Atomics.load(stop, 0) !== 0 : undefined,
      onEstimate: estimates ? (model, profile, n) => estimates.postMessage({ model, profile, n }) : undefined,
    });
  } finally {
    estimates?.close();
  }
}
