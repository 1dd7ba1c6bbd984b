// An exploration worker: runs one share of a race exploration and returns its report.
import { MODELS } from '../src/race/catalogue.js';
import { type ExploreOptions, type ExploreReport, explore } from '../src/race/explore.js';

export type ExploreTask = Omit<ExploreOptions, 'models' | 'onEstimate'> & { modelNames: string[] };

export default function runExploreTask(task: ExploreTask): ExploreReport {
  const models = task.modelNames.map((name) => {
    const m = MODELS.find((x) => x.name === name);
    if (!m) throw new Error(`unknown model ${name}`);
    return m;
  });
  return explore({ ...task, models });
}
