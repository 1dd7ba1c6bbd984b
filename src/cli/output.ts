import { accessSync, constants, renameSync, rmSync, writeFileSync } from 'node:fs';
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
