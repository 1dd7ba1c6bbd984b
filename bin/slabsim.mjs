#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`); from a checkout without a build,
// or with SLABSIM_FROM_SOURCE=1, runs the TypeScript source through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(built) && process.env.SLABSIM_FROM_SOURCE !== '1') {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
