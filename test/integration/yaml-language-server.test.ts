// The published schema in a real editor: yaml-language-server (the engine of VS Code's YAML extension and most LSP editors),
// started over stdio, picks up the spec's `# yaml-language-server: $schema=../../schema/cluster.schema.json` modeline.
// The lab must come back clean, and a misspelt key must give exactly one diagnostic, on its line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = join(REPO, 'node_modules/.bin/yaml-language-server');
const LAB = join(REPO, 'clusters/lab/cluster.yaml');
const LAB_URI = pathToFileURL(LAB).href;
const TIMEOUT_MS = 60_000;

interface LspDiagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  message: string;
  severity?: number;
  source?: string;
}

/** A minimal LSP client: Content-Length framing, request ids, and answers to the server's own requests. */
function lspClient(child: ChildProcessWithoutNullStreams, yamlSettings: Record<string, unknown>) {
  let buffer = Buffer.alloc(0);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const published = new Map<string, { at: number; diagnostics: LspDiagnostic[] }[]>();
  const log: string[] = [];

  const send = (msg: Record<string, unknown>): void => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
    child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin.write(body);
  };

  const onMessage = (msg: { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } }): void => {
    if (msg.method && msg.id !== undefined) {
      // A request from the server: answer the ones an editor answers; null for the rest.
      let result: unknown = null;
      if (msg.method === 'workspace/configuration') {
        const items = (msg.params as { items: { section?: string }[] }).items;
        result = items.map((i) => (i.section === 'yaml' ? yamlSettings : i.section === 'http' ? { proxy: '', proxyStrictSSL: false } : {}));
      }
      send({ id: msg.id, result });
      return;
    }
    if (msg.method === 'textDocument/publishDiagnostics') {
      const p = msg.params as { uri: string; diagnostics: LspDiagnostic[] };
      published.set(p.uri, [...(published.get(p.uri) ?? []), { at: Date.now(), diagnostics: p.diagnostics }]);
      return;
    }
    if (msg.method) {
      log.push(`${msg.method} ${JSON.stringify(msg.params).slice(0, 300)}`);
      return;
    }
    const waiter = msg.id !== undefined ? pending.get(msg.id) : undefined;
    if (waiter) {
      pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    }
  };

  child.stdout.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const m = /Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString('ascii'));
      if (!m) throw new Error(`bad LSP header: ${buffer.subarray(0, headerEnd).toString()}`);
      const len = Number(m[1]);
      if (buffer.length < headerEnd + 4 + len) return;
      const body = buffer.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8');
      buffer = buffer.subarray(headerEnd + 4 + len);
      onMessage(JSON.parse(body));
    }
  });

  return {
    log,
    request(method: string, params: unknown): Promise<unknown> {
      const id = nextId++;
      send({ id, method, params });
      return new Promise((res, rej) => pending.set(id, { resolve: res, reject: rej }));
    },
    notify(method: string, params: unknown): void {
      send({ method, params });
    },
    /** Diagnostics for `uri` once the server has published and then stayed quiet for `settleMs` (it revalidates as settings and schemas load). */
    async diagnosticsFor(uri: string, since: number, settleMs = 2000): Promise<LspDiagnostic[]> {
      const deadline = Date.now() + TIMEOUT_MS;
      for (;;) {
        const fresh = (published.get(uri) ?? []).filter((p) => p.at >= since);
        const last = fresh[fresh.length - 1];
        if (last && Date.now() - last.at >= settleMs) return last.diagnostics;
        if (Date.now() > deadline) throw new Error(`no diagnostics for ${uri} within ${TIMEOUT_MS} ms; server said:\n${log.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

describe('yaml-language-server with the published schema', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  let client: ReturnType<typeof lspClient>;
  const stderr: string[] = [];
  const labText = readFileSync(LAB, 'utf8');

  beforeAll(async () => {
    expect(existsSync(SERVER), `${SERVER} is missing: it is a devDependency (npm ci installs it)`).toBe(true);
    child = spawn(SERVER, ['--stdio'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (c: Buffer) => stderr.push(c.toString()));
    // No schema store and no downloads: the only schema is the file the modeline names, read from disk.
    client = lspClient(child, { validate: true, hover: false, completion: false, schemaStore: { enable: false, url: '' }, schemaDownload: { enable: true }, schemas: {}, yamlVersion: '1.2', format: { enable: false } });
    const init = (await Promise.race([
      client.request('initialize', {
        processId: process.pid,
        rootUri: pathToFileURL(REPO).href,
        workspaceFolders: [{ uri: pathToFileURL(REPO).href, name: 'herd' }],
        capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } }, textDocument: { publishDiagnostics: { relatedInformation: false }, synchronization: { didSave: false } } },
      }),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`initialize timed out; stderr: ${stderr.join('')}`)), TIMEOUT_MS)),
    ])) as { capabilities: Record<string, unknown> };
    expect(init.capabilities.textDocumentSync).toBeDefined();
    client.notify('initialized', {});
    client.notify('workspace/didChangeConfiguration', { settings: { yaml: { validate: true, schemaStore: { enable: false } } } });
  }, TIMEOUT_MS + 5_000);

  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    try {
      await Promise.race([client.request('shutdown', null), new Promise((r) => setTimeout(r, 2000))]);
      client.notify('exit', null);
    } catch {
      // The server is killed below either way.
    }
    await new Promise((r) => setTimeout(r, 300));
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('resolves the modeline relative to the spec and reports nothing on the lab', async () => {
    const since = Date.now();
    client.notify('textDocument/didOpen', { textDocument: { uri: LAB_URI, languageId: 'yaml', version: 1, text: labText } });
    const diagnostics = await client.diagnosticsFor(LAB_URI, since);
    expect(diagnostics).toEqual([]);
    // The server's own view of which schema applies: the modeline path, resolved against clusters/lab/.
    const schemas = (await client.request('yaml/get/jsonSchema', LAB_URI)) as { uri: string }[];
    expect(schemas.map((s) => s.uri)).toContain(pathToFileURL(join(REPO, 'schema/cluster.schema.json')).href);
  }, TIMEOUT_MS + 5_000);

  it('reports exactly one diagnostic, on the misspelt key\'s line, after an edit', async () => {
    const lines = labText.split('\n');
    const line = lines.findIndex((l) => l.startsWith('  c1: {'));
    expect(line).toBeGreaterThan(0);
    lines[line] = lines[line]!.replace('address:', 'adress:');
    const since = Date.now();
    client.notify('textDocument/didChange', { textDocument: { uri: LAB_URI, version: 2 }, contentChanges: [{ text: lines.join('\n') }] });
    const diagnostics = await client.diagnosticsFor(LAB_URI, since);
    expect(diagnostics, JSON.stringify(diagnostics, null, 2)).toHaveLength(1);
    const [d] = diagnostics;
    expect(d!.range.start.line).toBe(line);
    expect(lines[line]!.slice(d!.range.start.character, d!.range.end.character)).toBe('adress');
    expect(d!.message).toMatch(/adress/);
  }, TIMEOUT_MS + 5_000);
});
