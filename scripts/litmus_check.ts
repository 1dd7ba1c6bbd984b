// Check slabsim's memory modes against published litmus tests, as they are published:
// a directory of .litmus files (the kernel's tools/memory-model/litmus-tests/, or
// herdtools7's catalogue/linux/tests/), each judged against its own header
// (`Result: Never|Sometimes`) or, failing that, herd7's output beside it
// (`NAME.litmus.expected`, its Observation line). Nothing of them is copied here.
//
//   LITMUS_DIR=path/to/litmus-tests node --import tsx scripts/litmus_check.ts [--memory-model arm]
//
// Prints a markdown table (test, published result, ours, why they differ) and exits 1
// when a difference is not one of the shapes docs/litmus.md lists as beyond the model:
// above all, any test published as Never that comes out Sometimes (a false alarm).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLitmus } from '../src/litmus/parse.js';
import { runLitmus } from '../src/litmus/run.js';

/** The shapes the model cannot produce or forbids more than the kernel's model does (docs/litmus.md, memory-models.md §3.3). */
const BEYOND: ReadonlyArray<[RegExp, string]> = [
  [/^(C-)?LB\b/, 'load buffering: this model never makes a store visible before an earlier load (no load-to-store reordering)'],
  [
    /^(C-)?(Z6\.0|Z6\.2|W\+RWC|WWC|WRC\+o\+o-data-o)/,
    'not multicopy atomic: the kernel model allows it, arm64 and this model (one global write order) forbid it',
  ],
  [
    /^(C-)?(2\+2W|R)\+o-wmb-o/,
    'smp_wmb orders stores in the one global write order here (as on arm64), which the kernel model does not promise',
  ],
];

const args = process.argv.slice(2);
const modeAt = args.indexOf('--memory-model');
const mode = modeAt >= 0 ? args[modeAt + 1] : 'arm';
const dir = process.env.LITMUS_DIR;
if (!dir || !existsSync(dir)) {
  process.stderr.write(
    "litmus_check: set LITMUS_DIR to a directory of .litmus files (e.g. the kernel's tools/memory-model/litmus-tests)\n",
  );
  process.exit(2);
}

/** The published verdict: the header's `Result:`, else the Observation of herd7's `.expected` output. */
function published(file: string, text: string): string | null {
  const header = /Result:\s*(Never|Sometimes|Always)/.exec(text);
  if (header) return header[1];
  const expected = `${file}.expected`;
  if (!existsSync(expected)) return null;
  return /^Observation \S+ (Never|Sometimes|Always)/m.exec(readFileSync(expected, 'utf8'))?.[1] ?? null;
}

const rows: string[] = [];
const counts = { same: 0, beyond: 0, refused: 0, unexpected: 0, unknown: 0 };
for (const name of readdirSync(dir)
  .filter((f) => f.endsWith('.litmus'))
  .sort()) {
  const file = join(dir, name);
  const text = readFileSync(file, 'utf8');
  const want = published(file, text);
  const test = name.slice(0, -'.litmus'.length);
  let got: string;
  let why = '';
  try {
    got = runLitmus(parseLitmus(text, name), { memoryModel: mode }).observation;
  } catch (e) {
    got = 'refused';
    why = (e as Error).message.replace(/^[^:]+:\d+:\d+: /, '');
  }
  if (want === null) {
    counts.unknown++;
    why ||= 'no published result';
  } else if (got === 'refused') counts.refused++;
  else if (got === want) counts.same++;
  else {
    const known = want === 'Sometimes' ? BEYOND.find(([re]) => re.test(test)) : undefined;
    if (known) {
      counts.beyond++;
      why = known[1];
    } else {
      counts.unexpected++;
      why = want === 'Never' ? 'FALSE ALARM: published Never' : 'UNEXPLAINED difference';
    }
  }
  rows.push(`| ${test} | ${want ?? '?'} | ${got} | ${why} |`);
}
process.stdout.write(`| test | published | ${mode} | why they differ |\n|---|---|---|---|\n${rows.join('\n')}\n\n`);
process.stdout.write(
  `${rows.length} tests under ${mode}: ${counts.same} as published, ${counts.beyond} beyond the model (listed shapes), ${counts.refused} outside the subset, ${counts.unexpected} unexpected, ${counts.unknown} without a published result\n`,
);
process.exit(counts.unexpected > 0 ? 1 : 0);
