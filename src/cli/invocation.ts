// How the person ran slabsim, so that a command slabsim prints (a failure's replay line)
// works when pasted as it is: `npx slabsim` from a project that installed it (or ran it
// with npx), `slabsim` for a global install, `node bin/slabsim.mjs` in a checkout.
import { basename, isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../package_files.js';

/** This package's bin/slabsim.mjs. */
const BIN = fileURLToPath(packageFile('bin/slabsim.mjs'));

export function invocation(argv1 = process.argv[1] ?? '', cwd = process.cwd(), env = process.env): string {
  if (env.npm_command === 'exec' || argv1.includes('/node_modules/')) return 'npx slabsim';
  if (basename(argv1) === 'slabsim') return 'slabsim';
  const rel = relative(cwd, BIN);
  return `node ${rel.startsWith('..') || isAbsolute(rel) ? BIN : rel}`;
}
