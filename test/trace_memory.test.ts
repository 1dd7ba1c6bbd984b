// A long trace streams: a replay holds the objects live at once, a bounded memory of
// recent frees and the call sites, never the events. Checked on a generated stream of
// 300,000 events with about 1,000 objects live: the replay's own tables stay as large as
// the live set (the same as for a stream five times shorter), and the heap, measured
// after a collection every 65,536 events, does not grow with the events read.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../src/trace/replay.js';
import { scanTrace } from '../src/trace/scan.js';
import { synthSource } from '../src/trace/synth.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const LIVE = 1000;
const stream = (events: number) => synthSource({ events, cpus: 2, live: LIVE, crossCpu: 0.3, seed: 9 });

async function replayMeasured(events: number) {
  const src = stream(events);
  const scan = await scanTrace(src);
  const heap: number[] = [];
  const { profiles } = await replayTrace(src, scan, {
    profiles: ['6.6'],
    cpus: 2,
    memory: 64 << 20,
    sheafCapacity: 32,
    onProgress: () => {
      gc();
      heap.push(process.memoryUsage().heapUsed);
    },
  });
  return { scan, r: profiles[0], heap };
}

describe('a long trace in bounded memory', () => {
  it('holds the live set, not the events: tables as for a short trace, no heap growth', async () => {
    const short = await replayMeasured(60_000);
    const long = await replayMeasured(300_000);
    expect(long.r.events).toBe(300_000);
    expect(long.r.checks.ok).toBe(true);
    expect(long.scan.peakLive).toBeLessThan(LIVE + 50);
    const m = long.r.memory;
    expect(m.live_table).toBeLessThan(LIVE + 50);
    // Pointers are reused after their free, as an allocator reuses addresses: the freed
    // pointers remembered are bounded by the distinct pointers, about the live set.
    expect(m.freed_memory).toBeLessThan(2 * LIVE);
    expect(m.reorder).toBe(0);
    expect(m.call_sites).toBeLessThanOrEqual(8);
    // Five times the events, the same tables.
    expect(m.live_table).toBeLessThan(short.r.memory.live_table + 50);
    expect(m.freed_memory).toBeLessThan(short.r.memory.freed_memory + 100);
    // The heap after each 64k events: what 300k events' records would take (tens of MB) is not there.
    expect(long.heap.length).toBeGreaterThanOrEqual(4);
    const growth = Math.max(...long.heap) - Math.min(...long.heap);
    expect(growth).toBeLessThan(4 << 20);
  });
});
