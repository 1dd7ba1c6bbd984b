// The replay rate of `slabsim trace`: a 10-million-event synthetic kmem trace, generated
// on the fly (never stored), scanned and replayed on one profile as the command does,
// against `slabsim run`'s rate on the same profile in the same bench run. The trace's
// text is made twice (once for the scan, once for the replay): the time to make it,
// measured alone, is taken out of the replay's. Memory: the heap sampled every 65,536
// events of the replay, and the replay's own tables, stay as large as the live set.
import type { Profile } from '../src/config.js';
import { synthSource, synthTrace } from '../src/trace/synth.js';
import { traceReplay } from '../src/trace/trace.js';
import { runWorkload } from '../src/workload/run.js';

export interface TraceReplaySpeed {
  profile: Profile;
  events: number;
  /** kmem events per second of scan + replay, the generator's time taken out */
  replay_events_per_sec: number;
  /** the same with the generator's time in (what a generated stream costs end to end) */
  with_generation_events_per_sec: number;
  /** the generator alone, lines per second */
  generation_lines_per_sec: number;
  /** `run` (larson, 2 CPUs, 2 s) on the same profile: its steady ops/s */
  run_ops_per_sec: number;
  /** replay_events_per_sec over run_ops_per_sec */
  replay_over_run: number;
  /** the heap's largest sample during the replay, MiB; and the replay's tables */
  heap_peak_mib: number;
  live_table: number;
  freed_memory: number;
  checks_ok: boolean;
}

export async function traceReplaySpeed(events = 10_000_000, profile: Profile = '6.6'): Promise<TraceReplaySpeed> {
  const synth = { events, cpus: 2, live: 10_000, crossCpu: 0.3, leak: { count: 1000 }, seed: 1 };
  let t = performance.now();
  let bytes = 0;
  for (const chunk of synthTrace(synth)) bytes += chunk.length;
  const genMs = performance.now() - t;
  let heapPeak = 0;
  const sample = (): void => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  };
  t = performance.now();
  const r = await traceReplay(synthSource(synth), {
    profiles: [profile],
    onReplay: () => ({ update: sample, stop: sample }),
  });
  const totalMs = performance.now() - t;
  const p = r.profiles[0];
  const run = await runWorkload({ workload: 'larson', machine: { cpus: 2, profile }, ops: 1e9, durationMs: 2000, seed: 1 });
  const runRate = run.steady_rate?.ops_per_sec ?? run.ops_per_sec;
  const replayRate = Math.round(events / (Math.max(totalMs - 2 * genMs, 1) / 1000));
  if (bytes === 0 || p.events !== events) throw new Error(`trace bench: ${p.events} of ${events} events replayed`);
  return {
    profile,
    events,
    replay_events_per_sec: replayRate,
    with_generation_events_per_sec: Math.round(events / (totalMs / 1000)),
    generation_lines_per_sec: Math.round(events / (genMs / 1000)),
    run_ops_per_sec: runRate,
    replay_over_run: Math.round((replayRate / runRate) * 1000) / 1000,
    heap_peak_mib: Math.round((heapPeak / 2 ** 20) * 10) / 10,
    live_table: p.memory.live_table,
    freed_memory: p.memory.freed_memory,
    checks_ok: p.checks.ok && run.checks.ok,
  };
}
