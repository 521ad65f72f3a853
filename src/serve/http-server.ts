// The node:http shell around the provisioning protocol (I/O: sockets, reads files through ConfinedDir): routes with
// parse-request.ts, decides with provision.ts, sends files the way Go's http.ServeContent does (HEAD, single Range).
import { closeSync, createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfinedDir } from '../fs/confined-dir.ts';
import { isPathBlocked } from '../fs/confined-dir.ts';
import { answerRange, contentRangeOf } from './byte-range.ts';
import { routeRequest } from './parse-request.ts';
import { decideProvision, type LogEntry } from './provision.ts';
import { confinedRootView } from './root-view.ts';
import type { ServeModel } from './serve-model.ts';

export interface ServeOptions {
  readonly root: ConfinedDir;
  /** The root as the user named it, for log lines. */
  readonly rootDisplay: string;
  readonly model: ServeModel;
  /** One finished log line (newline included), in warewulfd's daemon format. */
  readonly log: (line: string) => void;
  readonly now?: () => Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** Go's time.UnixDate (`Mon Jan _2 15:04:05 MST 2006`) in UTC, as warewulfd's DaemonFormatter stamps each line. */
export function unixDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** wwlog's DefaultFormatter at the default level (INFO lines bare, others `LEVEL  : `) behind warewulfd's `[date] `. */
export function formatLogLine(e: LogEntry, now: Date): string {
  const prefix = e.level === 'INFO' ? '' : `${e.level.padEnd(7)}: `;
  return `[${unixDate(now)}] ${prefix}${e.message}\n`;
}

/** The request handler (exported for tests that drive it without a socket). */
export function provisionHandler(o: ServeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const view = confinedRootView(o.root);
  const now = o.now ?? (() => new Date());
  const emit = (entries: readonly LogEntry[]) => {
    const t = now();
    for (const e of entries) o.log(formatLogLine(e, t));
  };
  return (req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      emit([{ level: 'ERROR', message: `internal error: ${(e as Error).message}` }]);
      if (!res.headersSent) send(res, req, 500, {}, '');
      else res.destroy();
    } finally {
      // Cached directory descriptors would pin directories a later `herd apply` replaces: start each request from the top.
      o.root.flush();
    }
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const routed = routeRequest(req.url ?? '/', { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 });
    if (routed.kind === 'redirect') {
      send(res, req, 301, { Location: routed.location, 'Content-Type': 'text/html; charset=utf-8' }, `<a href="${routed.location.replace(/"/g, '&#34;')}">Moved Permanently</a>.\n\n`);
      return;
    }
    if (routed.kind === 'not-found') {
      // Go's ServeMux answers unknown routes itself; warewulfd logs nothing for them.
      send(res, req, 404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }, '404 page not found\n');
      return;
    }
    if (routed.kind === 'bad-request') {
      if (routed.logged) emit([{ level: 'ERROR', message: `Bad status\n${routed.reason}` }]);
      send(res, req, 400, {}, '');
      return;
    }
    const answer = decideProvision(routed.request, o.model, view, o.rootDisplay);
    const body = answer.body;
    if (body.kind === 'file') {
      const opened = openConfined(body.rel);
      if (!opened) {
        emit([...answer.log.slice(0, -1), { level: 'ERROR', message: `Not found: ${o.rootDisplay}/${body.rel} (gone or replaced while opening)` }]);
        send(res, req, 404, {}, '');
        return;
      }
      emit(answer.log);
      sendFile(req, res, opened.fd, Number(opened.stat.size), new Date(Number(opened.stat.mtimeMs)));
      return;
    }
    emit(answer.log);
    if (body.kind === 'text') send(res, req, answer.status, { 'Content-Type': 'text' }, body.text);
    else send(res, req, answer.status, {}, '');
  }

  function openConfined(rel: string) {
    try {
      return o.root.openRead(rel);
    } catch (e) {
      if (isPathBlocked(e)) return undefined;
      throw e;
    }
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, headers: Record<string, string>, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': String(bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** Go's http.ServeContent for an opened file: Last-Modified, Accept-Ranges, one range as 206, 416 when none overlaps; HEAD sends no body. */
function sendFile(req: IncomingMessage, res: ServerResponse, fd: number, size: number, mtime: Date): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Last-Modified': mtime.toUTCString() };
  const header = req.headers.range;
  const range = answerRange(Array.isArray(header) ? header[0] : header, size);
  if (range.kind === 'unsatisfiable') {
    closeSync(fd);
    send(res, req, 416, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...(range.contentRange ? { 'Content-Range': range.contentRange } : {}) }, `${range.message}\n`);
    return;
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const length = range.kind === 'partial' ? range.length : size;
  res.writeHead(range.kind === 'partial' ? 206 : 200, {
    ...headers,
    'Accept-Ranges': 'bytes',
    'Content-Length': String(length),
    ...(range.kind === 'partial' ? { 'Content-Range': contentRangeOf(start, length, size) } : {}),
  });
  if (req.method === 'HEAD' || length === 0) {
    closeSync(fd);
    res.end();
    return;
  }
  const stream = createReadStream('', { fd, start, end: start + length - 1, autoClose: true });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

export interface RunningServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listen on host:port (port 0: any free port) and serve until close(). `model` may be a function of the port actually bound,
 * since the iPXE script names the server's port.
 */
export function startServe(o: Omit<ServeOptions, 'model'> & { readonly host: string; readonly port: number; readonly model: ServeModel | ((port: number) => ServeModel) }): Promise<RunningServer> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => handler!(req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      handler = provisionHandler({ ...o, model: typeof o.model === 'function' ? o.model(addr.port) : o.model });
      resolve({
        server,
        host: addr.address,
        port: addr.port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}
