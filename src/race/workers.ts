// --workers N: the runs of an exploration spread over N threads (piscina), each taking a
// disjoint shard of the seed space, then merged as `--merge` merges shards of CI jobs.
// A thread finds built-in models by name and loads a user's models from their files.
import { Piscina } from 'piscina';
import type { ExploreTask, ModelRef } from '../../workers/explore.js';
import { type ExploreOptions, type ExploreReport, explore, mergeReports } from './explore.js';
import { ModelError } from '../errors.js';
import { modelByName } from './catalogue.js';

function pool(threads: number): Piscina {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? '../../workers/boot.mjs' : '../../workers/explore.js', import.meta.url).href;
  return new Piscina({ filename, minThreads: threads, maxThreads: threads, workerData: { entry: './explore.ts' } });
}

/** How a worker thread finds each model: built-in ones by name, others by their file. */
function modelRefs(opts: ExploreOptions): ModelRef[] {
  return opts.models.map((m) => {
    if (modelByName(m.name) === m) return { name: m.name };
    if (!m.source)
      throw new ModelError(`model '${m.name}': --workers needs a model defined in a file (defineModel() records it)`);
    return { name: m.name, file: m.source };
  });
}

export async function exploreOnWorkers(opts: ExploreOptions, workers: number): Promise<ExploreReport> {
  // DFS enumerates one space: splitting it by seed would repeat it, so it runs on one thread.
  if (opts.strategy === 'dfs') return explore(opts);
  const models = modelRefs(opts);
  const p = pool(workers);
  try {
    const [k, n] = opts.shard;
    const { models: _models, onEstimate: _onEstimate, shouldStop: _shouldStop, replayCommand, ...rest } = opts;
    const tasks = Array.from({ length: workers }, (_, i): ExploreTask => ({
      ...rest,
      models,
      shard: [k * workers + i, n * workers],
    }));
    const reports = await Promise.all(tasks.map((t) => p.run(t) as Promise<ExploreReport>));
    const merged = mergeReports(reports);
    // Replay commands are made here, where the caller's command line is known.
    if (replayCommand) {
      for (const r of merged.models) {
        const model = opts.models.find((m) => m.name === r.model);
        if (r.failure && model) r.failure.replay = replayCommand(r.failure.shrunk, model);
      }
    }
    return { ...merged, shard: `${k}/${n}` };
  } finally {
    await p.destroy();
  }
}
