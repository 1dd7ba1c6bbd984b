// slabsim view: the simulator in a browser tab. Builds the page and its workers in
// memory (src/view/bundle.ts), serves them on loopback (src/view/server.ts) and prints the
// URL; a --schedule opens at that run (in the memory mode it names), a --model file is
// bundled into the page, --memory-model picks the mode of the runs the page makes.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { checkScheduleMode } from '../race/api.js';
import { MODELS } from '../race/catalogue.js';
import { MEMORY_MODELS, type MemoryModel } from '../sched/memory_model.js';
import { parseRaceSchedule } from '../race/run.js';
import { buildViewer } from '../view/bundle.js';
import { checkHost, isLoopback, serveViewer } from '../view/server.js';
import { intIn, oneOf } from './options.js';
import { addModelOptions, fileModels, type ModelFlags } from './race.js';

interface ViewFlags extends ModelFlags {
  port: number;
  host: string;
  open?: boolean;
  schedule?: string;
  memoryModel?: MemoryModel;
}

export const DEFAULT_VIEW_PORT = 7411;

export function addViewCommand(program: Command): void {
  const cmd = program
    .command('view')
    .description('serve the viewer: SLUB and your own models in the browser, stepped, replayed and live (Ctrl-C stops)')
    .option('--port <n>', 'port to listen on (0: any free port)', intIn(0, 65535), DEFAULT_VIEW_PORT)
    .option('--host <address>', 'address to listen on; anything but loopback only when given here', '127.0.0.1')
    .option('--open', 'open the page in the default browser')
    .option('--schedule <schedule>', 'open at this run (a schedule string printed by slabsim race; v2 names its memory model)')
    .addOption(
      new Option(
        '--memory-model <m>',
        `${MEMORY_MODELS.join(', ')}: the mode of the runs the page makes (with --schedule: refuse it unless it names this mode)`,
      ).argParser(oneOf(MEMORY_MODELS)),
    );
  addModelOptions(cmd).action(async (f: ViewFlags) => {
    const host = checkHost(f.host, cmd.getOptionValueSource('host') === 'cli');
    const fromFiles = await fileModels(f, f.schedule);
    if (f.schedule !== undefined) {
      const { cfg } = parseRaceSchedule(f.schedule, [...fromFiles.map((x) => x.model), ...MODELS]);
      checkScheduleMode(cfg.memoryModel ?? 'sc', f.memoryModel);
    }
    const t0 = performance.now();
    const files = await buildViewer(
      fromFiles.map((x) => ({
        path: resolve(x.file),
        file: x.file,
        exportName: x.exportName === 'default' ? undefined : x.exportName,
      })),
    );
    const built = Math.round(performance.now() - t0);
    const server = await serveViewer(files, { host, port: f.port, explicitHost: true });
    const url =
      f.schedule !== undefined
        ? `${server.url}#schedule=${encodeURIComponent(f.schedule)}`
        : f.memoryModel !== undefined
          ? `${server.url}#memory-model=${f.memoryModel}`
          : server.url;
    if (!isLoopback(host))
      process.stdout.write(`slabsim view: listening on ${host}, which other machines can reach (--host was given)\n`);
    process.stdout.write(`slabsim view: ${url} (page built in ${built} ms; Ctrl-C stops)\n`);
    if (f.open) openBrowser(url);
    await new Promise<void>((done) => {
      const stop = (): void => {
        void server.close().then(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

/** The desktop's own opener, detached; a failure to open is said, not fatal. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`slabsim view: could not start ${cmd}; open ${url} yourself\n`));
  child.unref();
}
