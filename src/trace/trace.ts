// slabsim trace: a kernel's own allocation trace (ftrace kmem: events) replayed on SLUB of
// each profile. The scan reads the trace once (caches, CPUs, order, size; bad input stops
// there), then each profile replays it on a machine of its own (replay.ts).
import { MACHINE_OPTIONS, type Profile } from '../config.js';
import { type ProfileReplay, replayTrace, TRACE_CACHE_ROOM, type TraceProblems } from './replay.js';
import { type MalformedLine, type PlannedCache, scanTrace, type TraceScan, type TraceWindow } from './scan.js';
import type { TraceSource } from './source.js';

export const TRACE_SCHEMA = 'slabsim-trace/1';

const MiB = 1 << 20;
const MAX_CPUS = MACHINE_OPTIONS.find((o) => o.name === 'cpus')?.max ?? 64;
const MAX_MEMORY = MACHINE_OPTIONS.find((o) => o.name === 'memory')?.max ?? 1024 * MiB;
/** The default sheaf_capacity of the trace's caches on 6.18 (opt-in there) and 7.0: maple_node's, as compare's. */
export const DEFAULT_TRACE_SHEAF_CAPACITY = 32;

export interface TraceOptions {
  profiles: readonly Profile[];
  /** simulated CPUs (default: the trace's, at most 64); fewer than the trace's fold them */
  cpus?: number;
  /** simulated memory in bytes (default: from the trace's peak of live bytes) */
  memory?: number;
  /** sheaf_capacity of the trace's caches on 6.18 and 7.0 (0: none on 6.18) */
  sheafCapacity?: number;
  window?: TraceWindow;
  signal?: AbortSignal;
  /** the scan's progress: bytes read of the source's size */
  onScanBytes?: (bytes: number) => void;
  /** before the replay: returns its progress callback (events read) and an end */
  onReplay?: (events: number) => { update: (events: number) => void; stop: () => void };
}

export interface TraceReport {
  schema: typeof TRACE_SCHEMA;
  file: string;
  /** how the text read: ftrace (with header), trace-cmd report, perf script */
  format: string;
  window: { since: number | null; until: number | null; limit: number | null };
  lines: number;
  /** kmem event lines read, well-formed (in the window or not) */
  kmem_lines: number;
  /** kmem events in the window: what each profile replays */
  events: number;
  /** the trace's time span of those events, in its clock's seconds */
  first_ts: number | null;
  last_ts: number | null;
  skipped: {
    malformed: number;
    malformed_lines: MalformedLine[];
    other_events: Record<string, number>;
    unknown_lines: number;
    lost_notices: number;
    lost_events: number;
    outside_window: number;
  };
  /** the largest step back in time between lines (0: in timestamp order; else replayed sorted) */
  disorder: number;
  cpus: { trace: number; replay: number; folded: boolean };
  memory: number;
  sheaf_capacity: number;
  /** the caches the trace's frees name, created before the replay (kmalloc caches exist) */
  caches: PlannedCache[];
  /** named caches beyond the machine's room: their objects go to kmalloc by size */
  folded_caches: string[];
  /** what the trace gets wrong, left out of the replay (the same on every profile) */
  problems: TraceProblems | null;
  /** one per profile: all replayed in one reading of the trace, each event on every machine in turn */
  profiles: ProfileReplay[];
  /**
   * the two readings (the scan; the replay on every machine) and the end-to-end rate:
   * events over both, per second
   */
  timing: { scan_ms: number; replay_ms: number; events_per_sec: number };
  /** stopped by Ctrl-C: the replay covers the events before it (no profile when it came during the scan) */
  interrupted: boolean;
}

/** Memory for a replay: four times the trace's peak of live bytes and 32 MiB more, in 16 MiB steps, within the machine's range. */
export function autoMemory(scan: TraceScan): number {
  const want = Math.ceil((4 * scan.peakLiveBytes + 32 * MiB) / (16 * MiB)) * 16 * MiB;
  return Math.min(MAX_MEMORY, Math.max(64 * MiB, want));
}

/** The replay's CPUs: as asked, else the trace's (at most the machine's 64). */
export function replayCpus(scan: TraceScan, asked?: number): { trace: number; replay: number; folded: boolean } {
  const trace = scan.maxCpu + 1;
  const replay = asked ?? Math.max(1, Math.min(MAX_CPUS, trace));
  return { trace, replay, folded: trace > replay };
}

/** Scan the trace, then replay it on each profile. Throws TraceError on bad input, before any replay. */
export async function traceReplay(src: TraceSource, opts: TraceOptions): Promise<TraceReport> {
  const window = opts.window ?? {};
  const scan = await scanTrace(src, { window, maxCaches: TRACE_CACHE_ROOM, signal: opts.signal, onBytes: opts.onScanBytes });
  return replayScanned(src, scan, opts);
}

/** Replay an already scanned trace on each profile (the CLI reports the scan in between). */
export async function replayScanned(src: TraceSource, scan: TraceScan, opts: TraceOptions): Promise<TraceReport> {
  const window = opts.window ?? {};
  const cpus = replayCpus(scan, opts.cpus);
  const memory = opts.memory ?? autoMemory(scan);
  const sheafCapacity = opts.sheafCapacity ?? DEFAULT_TRACE_SHEAF_CAPACITY;
  let profiles: ProfileReplay[] = [];
  let replayMs = 0;
  let interrupted = scan.interrupted;
  if (!interrupted && opts.profiles.length > 0) {
    const progress = opts.onReplay?.(scan.events);
    try {
      const r = await replayTrace(src, scan, {
        profiles: opts.profiles,
        cpus: cpus.replay,
        memory,
        sheafCapacity,
        window,
        signal: opts.signal,
        onProgress: progress?.update,
      });
      profiles = r.profiles;
      replayMs = r.elapsed_ms;
      interrupted = r.interrupted;
    } finally {
      progress?.stop();
    }
  }
  const totalMs = scan.elapsedMs + replayMs;
  return {
    schema: TRACE_SCHEMA,
    file: src.name,
    format: scan.format,
    window: { since: window.since ?? null, until: window.until ?? null, limit: window.limit ?? null },
    lines: scan.lines,
    kmem_lines: scan.kmemLines,
    events: scan.events,
    first_ts: Number.isNaN(scan.firstTs) ? null : scan.firstTs,
    last_ts: Number.isNaN(scan.lastTs) ? null : scan.lastTs,
    skipped: {
      malformed: scan.malformed,
      malformed_lines: scan.malformedLines,
      other_events: scan.otherEvents,
      unknown_lines: scan.unknownLines,
      lost_notices: scan.lostNotices,
      lost_events: scan.lostEvents,
      outside_window: scan.outsideWindow,
    },
    disorder: scan.disorder,
    cpus,
    memory,
    sheaf_capacity: sheafCapacity,
    caches: scan.caches,
    folded_caches: scan.foldedCaches,
    problems: profiles[0]?.problems ?? null,
    profiles,
    timing: {
      scan_ms: Math.round(scan.elapsedMs),
      replay_ms: Math.round(replayMs),
      events_per_sec: profiles.length ? Math.round(scan.events / Math.max(totalMs / 1000, 1e-6)) : 0,
    },
    interrupted,
  };
}
