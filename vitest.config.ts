import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
// @ts-expect-error: a plain .mjs script without types
import { generate } from './scripts/twoway.mjs';
import { LongestFirst } from './test/sequencer.js';

// The fast twins of two-way modules are generated, never committed: make sure they
// are current even when vitest is started directly. `npm test` has just generated them
// (`npm run gen && vitest run`): a second pass would cost its 4-5 s of CPU again, before
// any test starts.
if (process.env.npm_lifecycle_event !== 'test') generate();

export default defineConfig({
  // Test fixtures import slabsim as a user's project does; here that is this source tree.
  resolve: {
    alias: [
      { find: /^slabsim\/vitest$/, replacement: fileURLToPath(new URL('./src/vitest.ts', import.meta.url)) },
      { find: /^slabsim$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global_setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A test file spends part of its time waiting: on a CLI child, the browser, worker
    // threads, npm, a timer. vitest's default (one file fewer than CPUs: one file at a time
    // on 2 vCPUs) leaves a CPU idle in those waits, and so did one file per CPU (1.6 of 2
    // CPUs busy on average); one file more than CPUs keeps them busy (docs/architecture.md,
    // "The test suite's time").
    maxWorkers: Math.max(2, availableParallelism() + 1),
    // The longest files first, in a clean clone too (test/sequencer.ts).
    sequence: { sequencer: LongestFirst },
  },
});
