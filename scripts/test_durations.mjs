// Writes test/durations.json: each test file's duration (seconds) in the last `npm test`
// on this checkout, from the results vitest keeps in node_modules/.vite/vitest/. The test
// sequencer (test/sequencer.ts) starts the longest files first from it where vitest has
// no results of its own (a clean clone: CI). Run after a full `npm test` on the CI machine.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cache = join(root, 'node_modules', '.vite', 'vitest');
const seconds = {};
for (const dir of readdirSync(cache)) {
  const { results } = JSON.parse(readFileSync(join(cache, dir, 'results.json'), 'utf8'));
  for (const [key, { duration }] of results) seconds[key.replace(/^[^:]*:/, '')] = Math.round(duration / 100) / 10;
}
const sorted = Object.fromEntries(Object.entries(seconds).sort(([, a], [, b]) => b - a));
writeFileSync(join(root, 'test', 'durations.json'), `${JSON.stringify(sorted, null, 2)}\n`);
