// slabsim command line. Exit codes: 0 success, 1 a check failed, 2 bad usage.
import { existsSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ModelError, SlabError } from '../errors.js';
import { IN_BUNDLE } from '../package_files.js';
import { TraceError } from '../trace/source.js';
import { EXIT_INTERRUPTED, takeEarlySigints } from './interrupt.js';
import { OutputError } from './output.js';
import { addCompareCommand } from './compare.js';
import { addGeometryCommand } from './geometry.js';
import { addLitmusCommand } from './litmus.js';
import { addRaceCommands } from './race.js';
import { addRunCommand } from './run.js';
import { addSlabinfoCommand } from './slabinfo.js';
import { addStressCommand } from './stress.js';
import { addTraceCommand } from './trace.js';
import { addViewCommand } from './view.js';

export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('slabsim')
    .description('A simulator of multithreaded slab allocation (Linux SLUB and classic pools) on one SharedArrayBuffer')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      // Usage errors are one line: commander's message with its hint folded in.
      outputError: (str, write) => write(`${str.replace(/\s*\n\s*/g, ' ').trim()}\n`),
    });
  addRunCommand(program);
  addGeometryCommand(program);
  addRaceCommands(program);
  addCompareCommand(program);
  addSlabinfoCommand(program);
  addStressCommand(program);
  addViewCommand(program);
  addTraceCommand(program);
  addLitmusCommand(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Commands that stop gracefully on Ctrl-C (src/cli/interrupt.ts). */
const GRACEFUL = ['run', 'compare', 'race', 'trace'];

export async function main(argv: string[]): Promise<number> {
  // Ctrl-C while loading: a graceful command stops at once and reports; any other just ends.
  if (!GRACEFUL.includes(argv[0]) && takeEarlySigints() > 0) return EXIT_INTERRUPTED;
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    if (
      e instanceof OutputError ||
      e instanceof ModelError ||
      e instanceof TraceError ||
      (e instanceof SlabError && e.code === 'EINVAL')
    ) {
      process.stderr.write(`slabsim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof SlabError) {
      // Misuse detected inside the simulation (a model refusing a call): a failed run, in one line.
      process.stderr.write(`slabsim: the run failed: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// Run as the process's entry (`node dist/src/cli/main.js`, `node --import tsx
// src/cli/main.ts`); bin/slabsim.mjs imports main() and calls it itself. Never inside
// the bundle, even run directly: a model file importing `slabsim` there imports the
// bundle, which must not be waiting on the command that loads the model.
const entry = process.argv[1];
const isEntry = entry !== undefined && existsSync(entry) && import.meta.url === pathToFileURL(realpathSync(entry)).href;
if (isEntry && !IN_BUNDLE) process.exit(await main(process.argv.slice(2)));
