// Explorations on worker threads: --workers N spreads the runs over N threads (piscina),
// each taking a disjoint shard of the seed space, then merged as `--merge` merges shards
// of CI jobs. A thread finds built-in models by name and loads a user's models from their
// files. One thread too: the main thread then stays free to take a Ctrl-C, which stops
// every worker between two runs through a shared stop word.
import type { MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { ExploreResult, ExploreTask, ModelRef } from '../../workers/explore.js';
import { type ExploreOptions, type ExploreReport, mergeReports } from './explore.js';
import { ModelError } from '../errors.js';
import { modelByName } from './catalogue.js';
import { workerFile } from '../package_files.js';

/** The threads, piscina loaded only now: a CLI command that starts none does not pay for it. */
async function pool(threads: number): Promise<Piscina> {
  const { Piscina } = await import('piscina');
  const filename = workerFile('explore');
  return new Piscina({ filename, minThreads: threads, maxThreads: threads, workerData: { entry: './explore.ts' } });
}

/** How a worker thread finds each model: built-in ones by name, others by their file (compiled, where it is). */
function modelRefs(opts: ExploreOptions, compiled: Readonly<Record<string, string>>): ModelRef[] {
  return opts.models.map((m) => {
    if (modelByName(m.name) === m) return { name: m.name };
    if (!m.source)
      throw new ModelError(`model '${m.name}': --workers needs a model defined in a file (defineModel() records it)`);
    return { name: m.name, file: m.source, compiled: compiled[m.source] };
  });
}

/**
 * Explore on `workers` threads; `signal` aborted stops them all between two runs.
 * `compiled`: model files compiled for the threads (path -> module, src/cli/model_bundle.ts).
 */
export async function exploreOnWorkers(
  opts: ExploreOptions,
  workers: number,
  signal?: AbortSignal,
  compiled: Readonly<Record<string, string>> = {},
): Promise<ExploreReport> {
  // DFS enumerates one space: splitting it by seed would repeat it, so it runs on one thread.
  // DPOR splits its space at a frontier: each thread takes its own states there.
  const threads = opts.strategy === 'dfs' ? 1 : workers;
  const models = modelRefs(opts, compiled);
  const p = await pool(threads);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const onAbort = (): void => void Atomics.store(stop, 0, 1);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort);
  // The DFS estimate is printed before the search: the worker sends it as soon as it has it.
  // Node's global MessageChannel is worker_threads' (typed as the DOM's): no node: import
  // here, so that the explorer bundles for a browser page.
  const estimates = new MessageChannel() as unknown as { port1: MessagePort; port2: MessagePort };
  estimates.port1.on('message', (e: { model: string; profile: ExploreReport['models'][number]['profile']; n: number }) =>
    opts.onEstimate?.(e.model, e.profile, e.n),
  );
  try {
    const [k, n] = opts.shard;
    const { models: _models, onEstimate: _onEstimate, shouldStop: _shouldStop, replayCommand, ...rest } = opts;
    const tasks = Array.from({ length: threads }, (_, i): ExploreTask => ({
      ...rest,
      models,
      // DPOR: a job's executions must not depend on its threads (its shards merge with other jobs')
      ...(opts.strategy === 'dpor'
        ? { shard: [k, n] as [number, number], dporThread: [i, threads] as [number, number] }
        : { shard: [k * threads + i, n * threads] as [number, number] }),
      stop,
      estimates: i === 0 ? estimates.port2 : undefined,
    }));
    const results = await Promise.all(
      tasks.map((t) => p.run(t, { transferList: t.estimates ? [t.estimates] : [] }) as Promise<ExploreResult>),
    );
    const reports = results.map((r) => {
      if ('modelError' in r) throw new ModelError(r.modelError.message, r.modelError.model);
      return r.report;
    });
    const merged = mergeReports(reports, { wholeSearch: false });
    // Replay commands are made here, where the caller's command line is known.
    if (replayCommand) {
      for (const r of merged.models) {
        const model = opts.models.find((m) => m.name === r.model);
        if (r.failure && model) r.failure.replay = replayCommand(r.failure.shrunk, model);
      }
    }
    return { ...merged, shard: `${k}/${n}` };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    estimates.port1.close();
    await p.destroy();
  }
}
