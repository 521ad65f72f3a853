// `herd boot-test [spec] [nodes...]` (I/O shell): boot the cluster's nodes in VMs from herd's own artifacts over the Warewulf
// protocol, in a network namespace the command makes and removes, until Slurm runs a job on them. The table it prints is
// meant for a pull request: what the server saw of each node, how long each stage took, and why a node failed.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { herdFailure, isHerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { ConfinedDir } from '../../fs/confined-dir.ts';
import { readHeadInputs } from '../../overlay/head-inputs.ts';
import { compileSpecAt, type CompileOptions, type CompileResult } from '../../pipeline.ts';
import { expandHostlist } from '../../spec/hostlist.ts';
import type { PendingArtifacts } from '../../artifacts/artifact.ts';
import type { ClusterModel, NodeModel } from '../../spec/model.ts';
import { renderTable } from '../../boottest/diagnose.ts';
import { chooseAccel, QEMU_NICS, runBootTest, type BootTestResult, type WarewulfdServer } from '../../boottest/run-boot-test.ts';
import { removeStaleSandboxes, Sandbox } from '../../boottest/sandbox.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { sourceDateEpochOf } from '../io.ts';
import { checkOutDir, writeOutDir } from '../out-dir.ts';

/** Programs the boot test runs, with the Debian package that has each. */
const TOOLS: readonly (readonly [string, string])[] = [
  ['ip', 'iproute2'], ['setpriv', 'util-linux'], ['nsenter', 'util-linux'], ['unshare', 'util-linux'],
  ['qemu-system-x86_64', 'qemu-system-x86'], ['dnsmasq', 'dnsmasq-base'], ['munged', 'munge'],
  ['slurmctld', 'slurmctld (or slurm-wlm)'], ['sinfo', 'slurm-client'], ['srun', 'slurm-client'],
];
const ROM_DIRS = ['/usr/lib/ipxe/qemu', '/usr/share/qemu'];

const onPath = (name: string, env: Readonly<Record<string, string | undefined>>): boolean =>
  (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, name)));

/** What is missing on this machine for a boot test, each with what to install. Empty when all is there. */
export function missingPrerequisites(nodes: readonly NodeModel[], env: Readonly<Record<string, string | undefined>>): string[] {
  const missing: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root: network namespaces, taps and bridges need it (run with sudo, or as root in CI)');
  for (const [tool, pkg] of TOOLS) if (!onPath(tool, env)) missing.push(`${tool} (Debian: apt-get install ${pkg})`);
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun: the tun module (modprobe tun), for the VMs\' tap devices');
  for (const driver of new Set(nodes.map((n) => n.driver ?? 'virtio_net'))) {
    const nic = QEMU_NICS[driver];
    const rom = nic === 'virtio-net-pci' ? 'virtio' : nic;
    if (nic && !ROM_DIRS.some((d) => existsSync(join(d, `pxe-${rom}.rom`)) || existsSync(join(d, `efi-${rom}.rom`)))) missing.push(`the iPXE ROM for ${nic} (Debian: apt-get install ipxe-qemu)`);
  }
  return missing;
}

/** `node <herd's bin/herd.js>`: herd serve runs as a child inside the namespace, from the same install as this process. */
function herdArgv(): string[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'bin', 'herd.js')) && existsSync(join(dir, 'package.json'))) return [process.execPath, join(dir, 'bin', 'herd.js')];
    dir = dirname(dir);
  }
  throw herdFailure('boot-test/no-herd', 'cannot find bin/herd.js beside this herd install', 'run herd from its repository or an installed package');
}

/** Nodes named on the command line (names or hostlists); all nodes when none. */
function selectNodes(all: readonly NodeModel[], wanted: readonly string[]): NodeModel[] {
  if (wanted.length === 0) return [...all];
  const byName = new Map(all.map((n) => [n.name, n]));
  const out: NodeModel[] = [];
  for (const w of wanted) {
    const ex = expandHostlist(w);
    const names = ex.ok ? ex.names : [w];
    for (const name of names) {
      const n = byName.get(name);
      if (!n) throw herdFailure('cli/usage', `the spec has no node named ${name}`, `nodes: ${[...byName.keys()].slice(0, 8).join(', ')}${byName.size > 8 ? ', ...' : ''}`);
      if (!out.includes(n)) out.push(n);
    }
  }
  return out;
}

/** Pending artifacts the chosen nodes boot from: their image's or their own overlays, or anything not tied to one node or image. */
export function relevantPending(pending: readonly PendingArtifacts[], nodes: readonly NodeModel[], model: ClusterModel): PendingArtifacts[] {
  const used = new Set(nodes.flatMap((n) => [n.image, n.name]));
  const known = new Set([...model.nodes.map((n) => n.name), ...Object.keys(model.images)]);
  return pending.filter((p) => {
    const parts = p.prefix.split('/').map((x) => x.replace(/\.img(\.gz)?$/, ''));
    return parts.some((x) => used.has(x)) || !parts.some((x) => known.has(x));
  });
}

/** Warewulf's server binary and its install's iPXE templates (read through the install folder, never following links). */
function warewulfdServer(binary: string, installRoot: string): WarewulfdServer {
  if (!existsSync(binary)) throw herdFailure('cli/usage', `--warewulfd ${binary} does not exist`, 'name Warewulf\'s wwctl (or warewulfd) binary, e.g. --warewulfd /usr/bin/wwctl');
  let install: ConfinedDir;
  try {
    install = ConfinedDir.open(installRoot, { what: 'Warewulf install' });
  } catch (e) {
    throw herdFailure('cli/input-unreadable', `cannot open the Warewulf install ${installRoot}: ${(e as Error).message}`, 'point --warewulf-install at the folder holding etc/warewulf/ipxe');
  }
  try {
    const templates = new Map<string, Uint8Array>();
    for (const e of install.readdir('etc/warewulf/ipxe') ?? []) {
      if (!e.isFile() || !e.name.endsWith('.ipxe')) continue;
      const body = install.readFile(`etc/warewulf/ipxe/${e.name}`, 1 << 20);
      if (body) templates.set(e.name, body);
    }
    if (!templates.has('default.ipxe')) throw herdFailure('cli/input-unreadable', `${installRoot}/etc/warewulf/ipxe has no default.ipxe`, 'point --warewulf-install at the folder holding Warewulf\'s etc/warewulf/ipxe');
    return { binary, installRoot, ipxeTemplates: templates };
  } finally {
    install.close();
  }
}

/** nodes.conf and warewulf.conf as the root holds them: what warewulfd would read on the head. */
function readWarewulfFiles(rootPath: string): { nodesConf: string; warewulfConf: string } {
  const root = ConfinedDir.open(rootPath, { what: 'root' });
  try {
    const read = (rel: string): string => {
      const b = root.readFile(rel, 64 << 20);
      if (!b) throw herdFailure('cli/input-unreadable', `${rootPath}/${rel} does not exist`, 'run herd apply --root DIR first');
      return b.toString('utf8');
    };
    return { nodesConf: read('etc/warewulf/nodes.conf'), warewulfConf: read('etc/warewulf/warewulf.conf') };
  } finally {
    root.close();
  }
}

export interface BootTestDeps {
  readonly compile: (path: string, cwd: string, options: CompileOptions) => Promise<CompileResult>;
}

export function makeBootTestCommand(deps: BootTestDeps = { compile: compileSpecAt }): Command {
  return {
    name: 'boot-test',
    summary: "boot the cluster's nodes in VMs from herd's artifacts over the Warewulf protocol, until Slurm runs a job on them",
    usage: '[spec] [nodes...] [--root DIR] [--warewulfd BIN [--warewulf-install DIR]] [--timeout SECONDS] [--accel auto|kvm|tcg] [--format text|markdown|json]',
    help: [
      'spec: a cluster.yaml or the folder holding it; nodes: names or hostlists (default: every node).',
      'Needs root, QEMU with ipxe-qemu, dnsmasq, munge and Slurm (slurmctld, sinfo, srun). Everything runs in a network',
      'namespace the command creates (bridge with the head address, one tap per VM) and removes on exit, Ctrl-C included.',
      '--root DIR         boot what herd apply wrote there (default: build the spec into a scratch root first)',
      '--timeout SECONDS  how long the nodes get to be up in Slurm (default 900: software emulation on a busy machine is slow)',
      '--accel MODE       auto (KVM when /dev/kvm opens, else software emulation), kvm or tcg',
      '--warewulfd BIN    serve the nodes with Warewulf\'s own server (`BIN server`, e.g. wwctl) instead of herd serve, on the same root',
      '--warewulf-install DIR  where that Warewulf is installed: its etc/warewulf/ipxe templates and usr/share (default /)',
      'Failed nodes\' console logs and the head\'s logs are kept in .herd/<cluster>/boot-test/ beside the spec.',
    ].join('\n'),
    formats: ['text', 'markdown', 'json'],
    interrupted: 'the VMs, daemons and network namespace were stopped and removed',
    options: { root: { type: 'string' }, timeout: { type: 'string' }, accel: { type: 'string' }, warewulfd: { type: 'string' }, 'warewulf-install': { type: 'string' } },
    async run(args, ctx) {
      const timeoutText = (args.values.timeout as string | undefined) ?? '900';
      if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 10) throw herdFailure('cli/usage', `--timeout ${timeoutText} is not a number of seconds (at least 10)`, 'e.g. --timeout 900');
      const accelText = (args.values.accel as string | undefined) ?? 'auto';
      if (accelText !== 'auto' && accelText !== 'kvm' && accelText !== 'tcg') throw herdFailure('cli/usage', `--accel ${accelText} is not auto, kvm or tcg`, 'e.g. --accel tcg');
      const [specArg = '.', ...wanted] = args.positionals;
      const warewulfd = args.values.warewulfd as string | undefined;
      const server = warewulfd === undefined ? undefined : warewulfdServer(resolve(ctx.io.cwd, warewulfd), resolve(ctx.io.cwd, (args.values['warewulf-install'] as string | undefined) ?? '/'));
      const rootArg = args.values.root as string | undefined;
      const settings = sourceDateEpochOf(ctx.io.env);
      const r = await deps.compile(specArg, ctx.io.cwd, { ...settings, ...(rootArg ? { images: false } : {}) });
      if (!r.model || (!rootArg && !r.artifacts)) {
        ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + `\n${r.displayPath}: ${summarize(r.diagnostics)}\n`);
        return EXIT.findings;
      }
      const model = r.model;
      const nodes = selectNodes(model.nodes, wanted);
      const unemulated = nodes.filter((n) => QEMU_NICS[n.driver ?? 'virtio_net'] === undefined);
      if (unemulated.length > 0) throw herdFailure('boot-test/no-nic-model', `QEMU has no model of the NIC driver ${[...new Set(unemulated.map((n) => n.driver))].join(', ')} (nodes ${unemulated.map((n) => n.name).slice(0, 6).join(', ')})`, `boot-test emulates ${Object.keys(QEMU_NICS).join(', ')}; boot-test a copy of the spec with one of those drivers`);
      const missing = missingPrerequisites(nodes, ctx.io.env);
      if (missing.length > 0) throw herdFailure('boot-test/missing-prerequisites', `herd boot-test cannot run here; missing:\n  ${missing.join('\n  ')}`, 'install what is listed, then run it again');
      const artifacts = r.artifacts;
      const slurmConf = artifacts?.artifacts.find((a) => a.path === 'etc/slurm/slurm.conf')?.bytes;
      if (!slurmConf) throw herdFailure('boot-test/no-slurm-conf', 'the compiled artifact set has no etc/slurm/slurm.conf', 'this is a compiler bug; please report it');
      const gres = artifacts?.artifacts.find((a) => a.path === 'etc/slurm/gres.conf')?.bytes;
      // Nothing boots from a pending artifact: name what is missing and why, instead of a 404 three minutes later.
      const pending = rootArg ? [] : relevantPending(artifacts?.pending ?? [], nodes, model);
      if (pending.length > 0) throw herdFailure('boot-test/pending', `cannot boot: ${pending.length} artifact group(s) could not be built here:\n  ${pending.slice(0, 6).map((p) => `${p.prefix}: ${p.reason}`).join('\n  ')}`, 'herd plan lists them with their reasons (herd pull for docker:// images; HERD_HEAD_ROOT for the head files the overlays read)');
      const head = readHeadInputs(model, settings.headRoot ?? '/', r.specDir);
      const mungeKey = head.inputs.mungeKey;
      if (!mungeKey) throw herdFailure('boot-test/no-munge-key', `the head's munge key is not available: ${head.missing.get('mungeKey') ?? 'unreadable'}`, 'the head\'s munged and the nodes must share it: set head.munge_key or HERD_HEAD_ROOT');

      await removeStaleSandboxes();
      const sandbox = Sandbox.create();
      let result: BootTestResult | undefined;
      let failure: unknown;
      try {
        let rootPath: string;
        if (rootArg) rootPath = resolve(ctx.io.cwd, rootArg);
        else {
          rootPath = sandbox.path('root');
          ctx.io.stderr.write(`herd boot-test: writing ${artifacts!.artifacts.length} artifacts into a scratch root\n`);
          await writeOutDir(checkOutDir(rootPath, { cwd: ctx.io.cwd, env: ctx.io.env, specDir: r.specDir }), artifacts!.artifacts);
        }
        const wwFiles = server ? readWarewulfFiles(rootPath) : {};
        const env: Record<string, string> = {};
        for (const k of ['HERD_HEAD_ROOT', 'SOURCE_DATE_EPOCH', 'HOME', 'HERD_CODE_CACHE']) if (ctx.io.env[k] !== undefined) env[k] = ctx.io.env[k]!;
        result = await runBootTest({
          model, nodes, sandbox, rootPath, specDir: r.specDir, herd: herdArgv(), env,
          slurmConf: Buffer.from(slurmConf).toString('utf8'),
          ...(gres ? { gresConf: Buffer.from(gres).toString('utf8') } : {}),
          mungeKey, accel: chooseAccel(accelText), timeoutMs: Number(timeoutText) * 1000,
          ...(server ? { server, ...wwFiles } : {}),
          progress: (l) => ctx.io.stderr.write(`herd boot-test: ${l}\n`),
        });
      } catch (e) {
        failure = e;
      } finally {
        await sandbox.close();
      }
      if (failure !== undefined) {
        if (isHerdFailure(failure)) throw failure;
        throw herdFailure('boot-test/head-failed', `the boot test's head did not come up: ${(failure as Error).message}`, 'nothing was left running; the message names the daemon that failed');
      }
      const res = result!;
      const kept = res.ok ? undefined : keepLogs(r.specDir, model.name, res);
      ctx.io.stdout.write(renderResult(res, ctx.format === 'markdown' ? 'markdown' : ctx.format === 'json' ? 'json' : 'text', kept, model.name));
      return res.ok ? EXIT.ok : EXIT.findings;
    },
  };
}

/** Failed nodes' consoles and the head's logs, under .herd/<cluster>/boot-test/<run>/ beside the spec (no secrets are in them). */
function keepLogs(specDir: string, cluster: string, res: BootTestResult): string | undefined {
  try {
    const spec = ConfinedDir.open(specDir, { what: 'spec folder' });
    try {
      const base = `.herd/${cluster}/boot-test`;
      spec.mkdirs(base);
      const run = spec.mkdtemp(base, 'run-');
      const put = (name: string, text: string) => spec.writeNew(`${run}/${name}`, text, 0o644);
      // A failed job keeps every console: the nodes were up, and the reason is in what they printed.
      for (const row of res.rows) if (!row.ok || res.srun?.ok === false) put(`console-${row.node}.log`, res.consoles.get(row.node) ?? '');
      put('slurmctld.log', res.logs.slurmctld);
      put('dnsmasq.log', res.logs.dnsmasq);
      put('serve.log', res.logs.serve);
      return join(specDir, run);
    } finally {
      spec.close();
    }
  } catch {
    return undefined;
  }
}

/** The report: the table, each failure's diagnosis, the srun line and one verdict line. */
export function renderResult(res: BootTestResult, format: 'text' | 'markdown' | 'json', kept: string | undefined, cluster: string): string {
  if (format === 'json') {
    return renderEnvelope('boot-test', res.ok ? EXIT.ok : EXIT.findings, [], {
      cluster, network: res.network, server: res.server, ok: res.ok,
      nodes: res.rows.map((r) => ({ node: r.node, ok: r.ok, cells: r.cells, ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}) })),
      ...(res.srun ? { srun: res.srun } : {}), ...(kept ? { kept } : {}),
    });
  }
  const md = format === 'markdown';
  const out: string[] = [];
  if (md) out.push(`### herd boot-test: ${cluster}`, '');
  out.push(renderTable(res.rows, format).trimEnd());
  out.push('');
  out.push(md ? `Times are from each VM's start: DHCP from the console, stages as ${res.server} saw the requests, then slurmctld seeing slurmd up.` : `times from each VM's start; stages as ${res.server} saw the requests`);
  for (const row of res.rows) if (row.diagnosis) out.push(`${md ? '- **' : ''}${row.node}${md ? '**' : ''}: ${row.diagnosis.problem}\n  ${md ? '' : 'hint: '}${row.diagnosis.hint}`);
  if (res.srun) {
    out.push('');
    out.push(md ? `\`${res.srun.command}\`:` : `$ ${res.srun.command}`);
    out.push(md ? '```\n' + res.srun.output + '\n```' : res.srun.output.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  out.push('');
  const n = res.rows.length;
  const ready = res.rows.filter((r) => r.ok).length;
  out.push(res.ok
    ? `PASS: ${n} node${n === 1 ? '' : 's'} booted from herd's artifacts (served by ${res.server}) and ran a Slurm job`
    : `FAIL: ${ready} of ${n} node${n === 1 ? '' : 's'} ready${res.srun && !res.srun.ok ? '; the job did not run on every node' : ''}`);
  if (kept) out.push(`logs kept in ${kept}`);
  return out.join('\n') + '\n';
}

export const command: Command = makeBootTestCommand();
