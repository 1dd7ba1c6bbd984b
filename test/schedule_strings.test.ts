// Every schedule string the project has replays to the trace it replayed to when
// test/fixtures/schedule_traces.json was recorded (scripts/schedule_traces.ts): the same
// steps, accesses, events, pending accesses and decisions. A change to how schedule points
// are compiled (scripts/twoway.mjs) must leave all of it as it was.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MUTANT_NAMES } from '../src/mm/slub/mutants.js';
import { MODELS } from '../src/race/catalogue.js';
import ring, { publishEarly } from './fixtures/ring.model.js';
import storeBuffer, { acquire } from './fixtures/store_buffer.model.js';
import { storedScheduleStrings, type TraceRecord, traceRecord } from './schedule_traces.js';

const root = new URL('..', import.meta.url).pathname;
const records: TraceRecord[] = JSON.parse(readFileSync(new URL('fixtures/schedule_traces.json', import.meta.url), 'utf8'));
const models = [...MODELS, ring, publishEarly, storeBuffer, acquire];

describe('schedule strings replay to the recorded traces', () => {
  it('the fixture holds every stored string that replays, and every mutant hunt', () => {
    const recorded = new Set(records.map((r) => r.schedule));
    for (const { schedule } of storedScheduleStrings(root)) {
      let replays = true;
      try {
        traceRecord(models, schedule, '');
      } catch {
        replays = false;
      }
      if (replays) expect(recorded, schedule).toContain(schedule);
    }
    for (const m of MUTANT_NAMES)
      expect(
        records.some((r) => r.schedule.includes(`:${m}:`) && r.failed),
        m,
      ).toBe(true);
    expect(records.length).toBeGreaterThan(50);
  });

  it.each(records.map((r) => [r.schedule, r]))('%s', (schedule, r) => {
    expect(traceRecord(models, schedule as string, (r as TraceRecord).source)).toEqual(r);
  });
});
