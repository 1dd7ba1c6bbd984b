// --workers N: the runs of an exploration spread over N threads (piscina), each taking a
// disjoint shard of the seed space, then merged as `--merge` merges shards of CI jobs.
import { Piscina } from 'piscina';
import type { ExploreTask } from '../../workers/explore.js';
import { type ExploreOptions, type ExploreReport, explore, mergeReports } from './explore.js';

function pool(threads: number): Piscina {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? '../../workers/boot.mjs' : '../../workers/explore.js', import.meta.url).href;
  return new Piscina({ filename, minThreads: threads, maxThreads: threads, workerData: { entry: './explore.ts' } });
}

export async function exploreOnWorkers(opts: ExploreOptions, workers: number): Promise<ExploreReport> {
  // DFS enumerates one space: splitting it by seed would repeat it, so it runs on one thread.
  if (opts.strategy === 'dfs') return explore(opts);
  const p = pool(workers);
  try {
    const [k, n] = opts.shard;
    const tasks = Array.from({ length: workers }, (_, i): ExploreTask => {
      const { models, onEstimate: _onEstimate, ...rest } = opts;
      return { ...rest, modelNames: models.map((m) => m.name), shard: [k * workers + i, n * workers] };
    });
    const reports = await Promise.all(tasks.map((t) => p.run(t) as Promise<ExploreReport>));
    const merged = mergeReports(reports);
    return { ...merged, shard: `${k}/${n}` };
  } finally {
    await p.destroy();
  }
}
