import { type Command, InvalidArgumentError, Option } from 'commander';
import { PROFILES, type Profile } from '../config.js';
import { MAX_SHEAF_CAPACITY } from '../mm/slub/geometry.js';
import { CACHE_NAME_BYTES } from '../shm/structs.js';
import { traceHtml } from '../trace/html.js';
import { TRACE_CACHE_ROOM } from '../trace/replay.js';
import { scanTrace, type TraceScan } from '../trace/scan.js';
import { fileSource, TraceError } from '../trace/source.js';
import { headLine, traceText } from '../trace/text.js';
import { autoMemory, DEFAULT_TRACE_SHEAF_CAPACITY, replayCpus, replayScanned } from '../trace/trace.js';
import { tuneV8ForWorkloads } from '../workload/v8_flags.js';
import { EXIT_INTERRUPTED, onInterrupt, yieldToSignals } from './interrupt.js';
import { intIn, listOf, machineInt, profileArg, sizeArg } from './options.js';
import { checkWritable, writeOutput } from './output.js';
import { progressBar } from './progress.js';

interface TraceFlags {
  profiles: Profile[];
  cpus?: number;
  memory?: number;
  sheafCapacity: number;
  limit?: number;
  since?: number;
  until?: number;
  json?: string;
  report?: string;
  quiet?: boolean;
}

/** Malformed lines named on stderr one by one; the rest are counted. */
const SHOW_MALFORMED = 10;

/** A timestamp of the trace's clock: seconds as the trace prints them, e.g. 312444.1 */
function timestampArg(text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new InvalidArgumentError('expected a timestamp of the trace, e.g. 312444.15');
  return Number(text);
}

export function addTraceCommand(program: Command): void {
  program
    .command('trace')
    .description("replay a kernel's allocation trace (ftrace kmem: events) on SLUB of each profile")
    .argument('<file>', "the trace: ftrace's trace or trace_pipe text, 'trace-cmd report' or 'perf script' output (gzip'd too)")
    .addOption(
      new Option('--profiles <list>', `kernel profiles to replay on, e.g. ${PROFILES.join(',')}`)
        .argParser(listOf(profileArg))
        .default([...PROFILES], PROFILES.join(',')),
    )
    .addOption(
      new Option(
        '--cpus <n>',
        "simulated CPUs (default: the trace's); fewer than the trace names fold CPU k onto k mod n",
      ).argParser(machineInt('cpus')),
    )
    .addOption(
      new Option('--memory <size>', "simulated memory, e.g. 256M (default: from the trace's peak of live bytes)").argParser(
        sizeArg,
      ),
    )
    .addOption(
      new Option('--sheaf-capacity <n>', "sheaf_capacity of the trace's caches on 6.18 and 7.0 (0: none on 6.18)")
        .argParser(intIn(0, MAX_SHEAF_CAPACITY))
        .default(DEFAULT_TRACE_SHEAF_CAPACITY),
    )
    .addOption(
      new Option('--limit <n>', 'replay the first n kmem events (in the window)').argParser(intIn(1, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(new Option('--since <timestamp>', 'leave out events before this timestamp').argParser(timestampArg))
    .addOption(new Option('--until <timestamp>', 'leave out events after this timestamp').argParser(timestampArg))
    .option('--json <file>', "write the replay as JSON ('-' for stdout)")
    .option('--report <file.html>', "write an HTML report with charts, one self-contained file ('-' for stdout)")
    .option('--quiet', 'print nothing but errors')
    .action(async (file: string, f: TraceFlags) => {
      for (const out of [f.json, f.report]) if (out) checkWritable(out);
      if (f.since !== undefined && f.until !== undefined && f.since > f.until)
        throw new TraceError(`--since ${f.since} is after --until ${f.until}: expected since <= until`);
      const src = fileSource(file);
      const window = { since: f.since, until: f.until, limit: f.limit };
      const talk = !f.quiet && f.json !== '-' && f.report !== '-';
      tuneV8ForWorkloads(); // before the replay's code is compiled
      const interrupt = onInterrupt();
      try {
        const reading = progressBar(src.size ?? 0, talk && src.size !== null, undefined, 'bytes');
        const scan = await scanTrace(src, {
          window,
          maxCaches: TRACE_CACHE_ROOM,
          signal: interrupt.signal,
          onBytes: reading.update,
        }).finally(reading.stop);
        if (!f.quiet) process.stderr.write(scanNotes(scan, f.cpus));
        // Off a terminal the first line comes when the replay starts (a sign for scripts that it does), the rest at the end.
        let head = '';
        const report = await replayScanned(src, scan, {
          profiles: f.profiles,
          cpus: f.cpus,
          memory: f.memory,
          sheafCapacity: f.sheafCapacity,
          window,
          signal: interrupt.signal,
          onReplay: (events) => {
            if (talk && !process.stderr.isTTY) {
              head = `${headLine({ file: src.name, format: scan.format, lines: scan.lines, events, cpus: replayCpus(scan, f.cpus), memory: f.memory ?? autoMemory(scan), window: { limit: f.limit ?? null } })}\n`;
              process.stdout.write(head);
            }
            return progressBar(events, talk, undefined, 'events');
          },
        });
        // One output at a time, each whole or not at all: a second Ctrl-C lands between two.
        await yieldToSignals();
        if (f.json) writeOutput(f.json, `${JSON.stringify(report, null, 2)}\n`);
        await yieldToSignals();
        if (f.report) writeOutput(f.report, traceHtml(report));
        if (talk) process.stdout.write(traceText(report).slice(head.length));
        process.exitCode = report.profiles.some((p) => !p.checks.ok) ? 1 : report.interrupted ? EXIT_INTERRUPTED : 0;
      } finally {
        interrupt.dispose();
      }
    });
}

/** What the scan has to say before the replay: malformed lines by number, folded CPUs and caches (each once). */
function scanNotes(scan: TraceScan, cpus?: number): string {
  const out: string[] = [];
  for (const m of scan.malformedLines.slice(0, SHOW_MALFORMED))
    out.push(`slabsim: ${scan.name}:${m.line}: malformed kmem line skipped: ${m.reason}`);
  if (scan.malformed > SHOW_MALFORMED)
    out.push(
      `slabsim: ${scan.name}: ${(scan.malformed - SHOW_MALFORMED).toLocaleString('en-US')} more malformed kmem lines skipped`,
    );
  const c = replayCpus(scan, cpus);
  if (c.folded)
    out.push(
      `slabsim: the trace names CPUs 0..${c.trace - 1}; replaying on ${c.replay} CPU${c.replay === 1 ? '' : 's'}: trace CPU k runs as CPU k mod ${c.replay}`,
    );
  if (scan.foldedCaches.length)
    out.push(
      `slabsim: ${scan.foldedCaches.length} of the trace's caches get no cache of their own (the machine has room for ${TRACE_CACHE_ROOM}, names under ${CACHE_NAME_BYTES} bytes, objects up to 4 MiB): their objects go to kmalloc by size (${scan.foldedCaches.slice(0, 5).join(', ')}${scan.foldedCaches.length > 5 ? ', ...' : ''})`,
    );
  return out.length ? `${out.join('\n')}\n` : '';
}
