// `herd serve [spec] --root DIR` (I/O shell): warewulfd's provisioning protocol for the boot path, serving only what `herd apply`
// wrote into the root, with node identity from the compiled spec. No builds on request; Ctrl-C or SIGTERM stops it cleanly.
import { resolve } from 'node:path';
import { herdFailure, isHerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { ConfinedDir, isPathBlocked } from '../../fs/confined-dir.ts';
import { compileSpecAt, type CompileOptions, type CompileResult } from '../../pipeline.ts';
import { startServe, type RunningServer } from '../../serve/http-server.ts';
import { serveModelOf, WAREWULF_PORT } from '../../serve/serve-model.ts';
import { defaultRootFor } from '../../state/paths.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export interface ServeCommandDeps {
  readonly compile: (path: string, cwd: string, options: CompileOptions) => Promise<CompileResult>;
  /** Resolves when the server should stop; default: the first SIGINT or SIGTERM. */
  readonly untilStopped: (server: RunningServer) => Promise<void>;
}

function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      res();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `ADDR:PORT`, `[v6]:PORT` or `PORT`; the address defaults to 127.0.0.1 (never every interface unless asked). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))?:?(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export function makeServeCommand(deps: ServeCommandDeps = { compile: compileSpecAt, untilStopped: untilSignal }): Command {
  return {
    name: 'serve',
    summary: "serve the applied root to booting nodes the way warewulfd does (iPXE script, kernel, image, overlays)",
    usage: '[spec] [--root DIR] [--listen ADDR:PORT] [--advertise HOST:PORT] [--secure]',
    help: [
      'spec: a cluster.yaml or the folder holding it (default: current folder); nodes are known by the MACs it gives them.',
      '--root DIR            the target root `herd apply --root DIR` wrote (default: .herd/<cluster>/root beside the spec)',
      `--listen ADDR:PORT    where to listen (default 127.0.0.1:${WAREWULF_PORT}, the port herd's warewulf.conf sets; port 0 picks a free one)`,
      '--advertise HOST:PORT the server address written into iPXE scripts (default: the head address and the listen port)',
      '--secure              as warewulf.conf `secure: true`: the runtime overlay only to source ports below 1024 (herd writes secure: false)',
    ].join('\n'),
    formats: ['text'],
    options: { root: { type: 'string' }, listen: { type: 'string' }, advertise: { type: 'string' }, secure: { type: 'boolean' } },
    async run(args, ctx) {
      const listenText = (args.values.listen as string | undefined) ?? `127.0.0.1:${WAREWULF_PORT}`;
      const listen = parseListen(listenText);
      if (!listen) throw herdFailure('cli/usage', `--listen ${listenText} is not ADDR:PORT`, `e.g. --listen 127.0.0.1:${WAREWULF_PORT}`);
      const advertise = args.values.advertise as string | undefined;
      if (advertise !== undefined && !/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):\d{1,5}$/.test(advertise)) throw herdFailure('cli/usage', `--advertise ${advertise} is not HOST:PORT`, 'e.g. --advertise 10.0.2.2:9873');
      // No image builds: node settings come from the spec, files only from the root.
      const r = await deps.compile(args.positionals[0] ?? '.', ctx.io.cwd, { images: false });
      if (!r.model) {
        ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + `\n${r.displayPath}: ${summarize(r.diagnostics)}\n`);
        return EXIT.findings;
      }
      const model = r.model;
      const rootArg = args.values.root as string | undefined;
      const rootPath = rootArg ? resolve(ctx.io.cwd, rootArg) : defaultRootFor(r.specDir, r.model.name);
      let root: ConfinedDir;
      try {
        root = ConfinedDir.open(rootPath, { what: 'root' });
      } catch (e) {
        if (isPathBlocked(e)) throw herdFailure('cli/unsafe-path', e.message);
        throw herdFailure('cli/input-unreadable', `cannot open the root ${rootArg ?? rootPath}: ${(e as Error).message}`, 'run herd apply --root DIR first, then serve that DIR');
      }
      try {
        if (root.lstat('etc/warewulf/nodes.conf') === null) ctx.io.stderr.write(`herd serve: warning: ${rootArg ?? rootPath} has no etc/warewulf/nodes.conf: has herd apply written it?\n`);
        let server: RunningServer;
        try {
          server = await startServe({
            root,
            rootDisplay: rootPath,
            host: listen.host,
            port: listen.port,
            log: (line) => ctx.io.stderr.write(line),
            // A function of the bound port: `--listen 127.0.0.1:0` picks one, and the iPXE script must name it.
            model: (port) => serveModelOf(model, { port, secure: Boolean(args.values.secure), ...(advertise ? { authority: advertise } : {}) }),
          });
        } catch (e) {
          if (isHerdFailure(e)) throw e;
          throw herdFailure('cli/listen-failed', `cannot listen on ${listenText}: ${(e as Error).message}`, 'pick another port with --listen ADDR:PORT');
        }
        ctx.io.stderr.write(`herd serve: serving ${rootArg ?? rootPath} for ${r.model.nodes.length} nodes of ${r.model.name} on http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}\n`);
        await deps.untilStopped(server);
        await server.close();
        ctx.io.stderr.write('herd serve: stopped\n');
        return EXIT.ok;
      } finally {
        root.close();
      }
    },
  };
}

export const command: Command = makeServeCommand();
