// The order the test files start in: failed ones first, then the longest first, so that
// the run does not end with one CPU waiting on a long file that started late. vitest's
// own sequencer takes the durations from its results of the last run
// (node_modules/.vite/vitest/); a clean clone (CI) has none, and vitest then starts the
// largest files first, a poor guess here (the consumer test, 80 s, is a short file).
// Where vitest has no duration of a file, test/durations.json gives one (seconds, a
// recent run on the CI machine; `node scripts/test_durations.mjs` refreshes it).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const RECORDED = JSON.parse(readFileSync(new URL('durations.json', import.meta.url), 'utf8')) as Record<string, number>;

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = (f: TestSpecification) => {
      const path = relative(this.ctx.config.root, f.moduleId);
      const last = this.ctx.cache.getFileTestResults(`${f.project.name}:${path}`);
      return { failed: last?.failed ?? false, ms: last?.duration ?? (RECORDED[path] ?? 0) * 1000 };
    };
    const order = new Map(files.map((f) => [f, known(f)]));
    return [...files].sort((a, b) => {
      const [x, y] = [order.get(a)!, order.get(b)!];
      return x.failed !== y.failed ? (x.failed ? -1 : 1) : y.ms - x.ms;
    });
  }
}
