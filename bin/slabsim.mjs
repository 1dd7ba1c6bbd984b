#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`): always in an installed package
// (no src/), and in a checkout when it is newer than every source file; otherwise (a
// checkout without a build, sources edited since, or SLABSIM_FROM_SOURCE=1) runs the
// TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// A Ctrl-C while the CLI loads would kill the process before a long command can stop
// gracefully: count it instead; src/cli/interrupt.ts takes the count over.
const early = { count: 0, listener: () => early.count++ };
process[Symbol.for('slabsim.sigint.early')] = early;
process.on('SIGINT', early.listener);

const root = fileURLToPath(new URL('..', import.meta.url));
// The CLI as one file (scripts/bundle_cli.mjs): it starts in half the time of dist/'s ~220 modules.
const built = new URL('../dist/src/cli/slabsim.js', import.meta.url);

function newestSource(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const installed = !existsSync(`${root}src`);
const fresh =
  existsSync(built) &&
  process.env.SLABSIM_FROM_SOURCE !== '1' &&
  (installed || statSync(built).mtimeMs >= Math.max(newestSource(`${root}src`), newestSource(`${root}workers`)));

let main;
if (fresh) {
  ({ main } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  globalThis[Symbol.for('slabsim.tsx')] = true; // src/cli/loader.ts: tsx is registered already
  ({ main } = await import(new URL('../src/cli/main.ts', import.meta.url).href));
}
process.exit(await main(process.argv.slice(2)));
