// The viewer's server: Node's http, serving only the files built in memory, on loopback
// unless a host was asked for explicitly. Every response carries the headers that make
// the page cross-origin isolated (SharedArrayBuffer, Atomics.wait in workers) and a
// Content-Security-Policy that lets the page load nothing from anywhere else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { SlabError } from '../errors.js';
import type { Asset } from './bundle.js';

export const VIEW_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * The address to listen on: loopback unless the person asked for another host with
 * --host (`explicit`). Anything else is refused before anything listens.
 */
export function checkHost(host: string, explicit: boolean): string {
  const h = host.replace(/^\[|\]$/g, '');
  if (h !== 'localhost' && isIP(h) === 0)
    throw new SlabError('EINVAL', `--host: expected an IP address or localhost, got '${host}'`);
  if (!isLoopback(h) && !explicit)
    throw new SlabError('EINVAL', `refusing to serve on ${host}, which is not loopback: pass --host ${host} to mean it`);
  return h;
}

/** The file a request path names, or why it is refused. */
export function resolvePath(
  rawUrl: string,
  files: ReadonlyMap<string, Asset>,
): { path: string } | { status: number; why: string } {
  const raw = rawUrl.split(/[?#]/)[0];
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return { status: 400, why: 'a malformed path' };
  }
  if (!path.startsWith('/') || /[\\\0]/.test(path) || path.split('/').some((seg) => seg === '..' || seg === '.'))
    return { status: 403, why: 'a path outside the viewer' };
  if (path === '/') path = '/index.html';
  return files.has(path) ? { path } : { status: 404, why: 'no such file' };
}

function respond(req: IncomingMessage, res: ServerResponse, files: ReadonlyMap<string, Asset>, hostCheck: boolean): void {
  const send = (status: number, type: string, body: string | Uint8Array): void => {
    res.writeHead(status, { ...VIEW_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'only GET and HEAD\n');
  // A page elsewhere cannot reach a loopback viewer through a name that resolves to it (DNS rebinding).
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (hostCheck && !isLoopback(host)) return send(421, 'text/plain', 'this viewer answers to loopback names only\n');
  const r = resolvePath(req.url ?? '/', files);
  if ('status' in r) return send(r.status, 'text/plain', `${r.why}\n`);
  const asset = files.get(r.path) as Asset;
  send(200, asset.type, asset.body);
}

export interface ViewServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Listen on `host:port` (port 0: a free one). `explicitHost`: the host came from --host. */
export async function serveViewer(
  files: ReadonlyMap<string, Asset>,
  opts: { host?: string; port?: number; explicitHost?: boolean } = {},
): Promise<ViewServer> {
  const host = checkHost(opts.host ?? '127.0.0.1', opts.explicitHost === true);
  const loopback = isLoopback(host);
  const server = createServer((req, res) => respond(req, res, files, loopback));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new SlabError('EINVAL', `cannot listen on ${host}:${opts.port ?? 0}: ${e.code ?? e.message}`)),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shown}:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
