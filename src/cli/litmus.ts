// slabsim litmus: run C litmus tests (the kernel's tools/memory-model format) on the
// explorer in a memory mode, every execution, and print herd7's output shape.
import { type Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { SlabError } from '../errors.js';
import { herdText, litmusJson } from '../litmus/format.js';
import { parseLitmus } from '../litmus/parse.js';
import { runLitmus } from '../litmus/run.js';
import { MEMORY_MODELS, type MemoryModel } from '../sched/memory_model.js';
import { oneOf } from './options.js';

interface LitmusFlags {
  memoryModel: MemoryModel;
  json?: boolean;
}

export function addLitmusCommand(program: Command): void {
  program
    .command('litmus')
    .description("run C litmus tests (the kernel's tools/memory-model format): every execution, herd7's output")
    .argument('<files...>', 'litmus files (.litmus)')
    .addOption(
      new Option('--memory-model <m>', `${MEMORY_MODELS.join(', ')} (docs/memory-models.md)`)
        .argParser(oneOf(MEMORY_MODELS))
        .default('sc'),
    )
    .option('--json', 'print the results as JSON')
    .action((files: string[], f: LitmusFlags) => {
      // Everything is read, parsed and run before anything is printed: a bad file
      // anywhere in the list leaves no half output.
      const tests = files.map((file) => parseLitmus(readText(file), file));
      const results = tests.map((t) => runLitmus(t, { memoryModel: f.memoryModel }));
      process.stdout.write(
        f.json ? `${JSON.stringify(litmusJson(f.memoryModel, results), null, 2)}\n` : results.map(herdText).join(''),
      );
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SlabError(
      'EINVAL',
      `cannot read litmus file '${file}': ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`,
    );
  }
}
