import { accessSync, constants, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** An output path the user asked for that cannot be written: a usage error (exit 2). */
export class OutputError extends Error {}

/** Fail early, before any work, if `path`'s directory cannot be written. */
export function checkWritable(path: string): void {
  if (path === '-') return;
  try {
    accessSync(dirname(path), constants.W_OK);
  } catch {
    throw new OutputError(`cannot write '${path}': directory '${dirname(path)}' is not writable or does not exist`);
  }
}

/** Write all or nothing: a temporary file renamed into place, or stdout for '-'. */
export function writeOutput(path: string, text: string): void {
  if (path === '-') {
    process.stdout.write(text);
    return;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new OutputError(`cannot write '${path}': ${(e as Error).message}`);
  }
}

/**
 * Fail early, before any work, unless `path` can become an output directory: its parent
 * is writable and it does not exist or is an empty directory (it is then replaced whole).
 */
export function checkWritableDir(path: string): void {
  if (path === '-') throw new OutputError("cannot write a directory to stdout ('-')");
  checkWritable(path);
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory()) throw new OutputError(`cannot write '${path}': it exists and is not a directory`);
  if (readdirSync(path).length > 0) throw new OutputError(`cannot write '${path}': it exists and is not empty`);
}

/** Build a directory all or nothing with `write(path)`; any failure is an OutputError. */
export function writeOutputDir(path: string, write: (path: string) => void): void {
  try {
    write(path);
  } catch (e) {
    throw new OutputError(`cannot write '${path}': ${(e as Error).message}`);
  }
}
