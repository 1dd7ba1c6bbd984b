// Where a trace's text comes from: a file (plain or gzip'd), or a generator (tests, the
// bench). A source can be opened more than once, since a replay reads it twice (once to
// plan the caches, then per profile); each opening streams it in chunks of about 1 MiB,
// so nothing holds the whole trace.
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** A trace that cannot be read, or is no trace: one line for the user (exit 2). */
export class TraceError extends Error {}

export interface TraceSource {
  /** the file as the user named it (for messages) */
  readonly name: string;
  /** bytes to read (the file's size) when known, for a progress bar */
  readonly size: number | null;
  /** A fresh stream of its text in chunks (bytes, or strings of 8-bit characters); `onBytes` gets the bytes read so far (of `size`). */
  open(onBytes?: (bytes: number) => void): AsyncIterable<Buffer | string>;
}

const CHUNK = 1 << 20;

/** What a binary file is, by its first bytes, when it is a recording and not its text. */
function binaryKind(head: Buffer): string | null {
  if (head.subarray(0, 10).equals(Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')])))
    return "a trace-cmd recording (trace.dat): give the text of 'trace-cmd report' instead";
  if (head.subarray(0, 8).toString('latin1') === 'PERFILE2')
    return "a perf recording (perf.data): give the text of 'perf script' instead";
  return null;
}

/**
 * A trace file. Refused at once with a TraceError when it cannot be opened, is a
 * directory, or is a binary recording; a gzip'd file (magic 1f 8b) is read through gunzip.
 */
export function fileSource(path: string): TraceSource {
  let size: number;
  let head: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new TraceError(`'${path}' is a directory, not a trace file`);
    size = st.size;
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(16);
      head = head.subarray(0, readSync(fd, head, 0, 16, 0));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const binary = binaryKind(head);
  if (binary) throw new TraceError(`'${path}' is ${binary}`);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  return {
    name: path,
    size,
    open(onBytes) {
      const file = createReadStream(path, { highWaterMark: CHUNK });
      if (onBytes) file.on('data', () => onBytes(file.bytesRead));
      const text = gzip ? file.pipe(createGunzip({ chunkSize: CHUNK })) : file;
      if (gzip) file.on('error', (e) => text.destroy(e));
      return text as AsyncIterable<Buffer>;
    },
  };
}

/** A trace made in memory: `chunks()` is called afresh for every opening. */
export function generatedSource(name: string, chunks: () => Iterable<string>): TraceSource {
  return {
    name,
    size: null,
    async *open() {
      yield* chunks();
    },
  };
}

/** A trace given as its text. */
export const textSource = (name: string, text: string): TraceSource => generatedSource(name, () => [text]);

/** A line longer than this is cut (no trace has one): memory stays bounded on any input. */
const MAX_LINE = 1 << 20;

/**
 * The source's bytes in pieces that end on a line boundary (the last piece may lack its
 * newline): a reader scans whole lines of each piece. A piece is a view of a chunk read,
 * or a line that straddled two chunks, joined; nothing else is copied.
 */
export async function* lineChunks(src: TraceSource, onBytes?: (bytes: number) => void): AsyncGenerator<Buffer> {
  let rest: Buffer | null = null;
  for await (const raw of src.open(onBytes)) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
    let from = 0;
    if (rest !== null) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        rest = Buffer.concat([rest, chunk]);
        if (rest.length > MAX_LINE) {
          yield rest;
          rest = null;
        }
        continue;
      }
      yield Buffer.concat([rest, chunk.subarray(0, nl + 1)]);
      rest = null;
      from = nl + 1;
    }
    const cut = chunk.lastIndexOf(10);
    if (cut >= from) yield chunk.subarray(from, cut + 1);
    if (cut + 1 < chunk.length) rest = chunk.subarray(Math.max(from, cut + 1));
  }
  if (rest !== null && rest.length > 0) yield rest;
}
