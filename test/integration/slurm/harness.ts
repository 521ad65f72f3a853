// Test harness running real Slurm 22.05 (slurmctld, slurmd, munged) on a generated slurm.conf inside private namespaces (impure; needs root).
// Nothing touches the host's network: the head and each node get their own network namespace, joined by veth pairs on a bridge.

import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { controllerHost, sandboxPaths, sandboxSlurmConf } from './sandbox-conf.ts';
import {
  addNamespace, cleanStaleSandboxes, deleteNamespace, ipBatch, makeSandboxDir, nextSandboxId, removeSandboxDir,
  spawnSandboxed, stopSandboxed, waitExit,
} from './namespaces.ts';

const execFileP = promisify(execFile);

export interface SlurmHost {
  readonly name: string;
  readonly addr: string;
}

/** Extra files written beside the sandbox slurm.conf (Slurm looks for gres.conf, cgroup.conf, ... in its directory). */
export interface ConfFiles {
  readonly gresConf?: string;
  readonly files?: Readonly<Record<string, string>>;
  /** Root filesystem of another Slurm release whose daemons and commands run instead of the host's (see slurm/releases.ts). */
  readonly root?: string;
}

export interface AcceptResult {
  /** slurmctld reached "Running as primary controller". */
  readonly ok: boolean;
  /** error/fatal lines, minus the noise every sandboxed start logs (PMIx missing, no saved state). */
  readonly errors: string[];
  /** Everything slurmctld printed. */
  readonly log: string;
}

const RUNNING = 'Running as primary controller';
const NOISE = [/pmix|MPI: Cannot create context/i, /state file|Trying backup state save file/, /xcpuinfo_hwloc_topo_load/];

/** The error and fatal lines of a slurmctld/slurmd log that are not sandbox noise. */
export function slurmErrors(log: string): string[] {
  return log.split('\n').filter((l) => /\b(error|fatal):/.test(l) && !NOISE.some((n) => n.test(l)));
}

/** One sandbox directory with the rewritten conf, its side files, a private hosts file and an empty resolv.conf. */
function prepareSandbox(dir: string, confText: string, mungeSocket: string, hosts: readonly SlurmHost[], extra: ConfFiles): string {
  const paths = sandboxPaths(dir, mungeSocket);
  for (const d of ['etc', 'state', 'spool', 'log', 'run']) mkdirSync(`${dir}/${d}`, { mode: 0o755 });
  const conf = `${dir}/etc/slurm.conf`;
  writeFileSync(conf, sandboxSlurmConf(confText, paths));
  writeFileSync(paths.plugstackConf, '');
  if (extra.gresConf !== undefined) writeFileSync(`${dir}/etc/gres.conf`, extra.gresConf);
  for (const [name, text] of Object.entries(extra.files ?? {})) writeFileSync(`${dir}/etc/${name}`, text);
  writeFileSync(`${dir}/etc/hosts`, ['127.0.0.1 localhost', ...hosts.map((h) => `${h.addr} ${h.name}`), ''].join('\n'));
  writeFileSync(`${dir}/etc/resolv.conf`, '');
  return conf;
}

interface Munge {
  readonly socket: string;
  readonly proc: ChildProcess;
}

/** Starts munged with a fresh random key in `dir/munge`, in an empty network namespace of its own. */
async function startMunge(dir: string): Promise<Munge> {
  const m = `${dir}/munge`;
  mkdirSync(m, { mode: 0o755 });
  writeFileSync(`${m}/munge.key`, randomBytes(128), { mode: 0o600 });
  writeFileSync(`${m}/hosts`, '127.0.0.1 localhost munge\n');
  writeFileSync(`${m}/resolv.conf`, '');
  const out = openSync(`${m}/munged.out`, 'a');
  const socket = `${m}/munge.socket`;
  const proc = spawnSandboxed(
    ['munged', '-F', '--force', `--socket=${socket}`, `--key-file=${m}/munge.key`, `--log-file=${m}/munged.log`,
      `--pid-file=${m}/munged.pid`, `--seed-file=${m}/munged.seed`, '--num-threads=4'],
    { hostname: 'munge', hostsFile: `${m}/hosts`, resolvFile: `${m}/resolv.conf`, env: {}, output: out, cwd: m },
  );
  closeSync(out);
  await pollUntil(() => existsSync(socket) || proc.exitCode !== null, { timeoutMs: 10_000, what: 'munged socket' });
  if (!existsSync(socket)) throw new Error(`munged did not start:\n${readFileSync(`${m}/munged.out`, 'utf8')}`);
  return { socket, proc };
}

let shared: Promise<{ dir: string; munge: Munge }> | undefined;

/** The munged shared by all slurmctldAccepts calls of this process (without munge, slurmctld stalls ~2 s at start). */
function sharedSandbox(): Promise<{ dir: string; munge: Munge }> {
  shared ??= (async () => {
    await cleanStaleSandboxes();
    const dir = makeSandboxDir(`${nextSandboxId()}-shared`);
    return { dir, munge: await startMunge(dir) };
  })();
  return shared;
}

/** Stops the shared munged and removes its directory (also happens at process exit). */
export async function closeSlurmHarness(): Promise<void> {
  if (!shared) return;
  const s = await shared;
  shared = undefined;
  await stopSandboxed(s.munge.proc, 500);
  removeSandboxDir(s.dir);
}

/**
 * Starts slurmctld (`-D -c`) on a sandboxed copy of `confText` and reports whether it reaches "running".
 * The controller runs in a private network namespace holding SlurmctldHost's address on a bridge (some CI kernels lack the dummy module), with
 * hostname = SlurmctldHost's name. Time-bounded; always cleans up.
 */
export async function slurmctldAccepts(confText: string, opts: ConfFiles & { timeoutMs?: number } = {}): Promise<AcceptResult> {
  const { munge } = await sharedSandbox();
  const head = controllerHost(confText) ?? { name: 'head' };
  const id = nextSandboxId();
  const ns = `${id}-h`;
  const dir = makeSandboxDir(id);
  let proc: ChildProcess | undefined;
  try {
    const conf = prepareSandbox(dir, confText, munge.socket, head.addr === undefined ? [] : [{ name: head.name, addr: head.addr }], opts);
    await addNamespace(ns);
    if (head.addr !== undefined) await ipBatch(['link add herd0 type bridge', `addr add ${head.addr}/32 dev herd0`, 'link set herd0 up'], ns);
    const p = spawnSandboxed(['slurmctld', '-D', '-c', '-f', conf], {
      ns, root: opts.root, hostname: head.name, hostsFile: `${dir}/etc/hosts`, resolvFile: `${dir}/etc/resolv.conf`, env: { SLURM_CONF: conf }, output: 'pipe', cwd: dir,
    });
    proc = p;
    let log = '';
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), opts.timeoutMs ?? 20_000);
      const onData = (d: Buffer): void => {
        log += d.toString();
        if (log.includes(RUNNING)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.on('close', () => {
        clearTimeout(timer);
        resolve(log.includes(RUNNING));
      });
    });
    await stopSandboxed(p, 0);
    // Error lines name the sandbox copy; report them against the file names the caller knows.
    log = log.split(`${dir}/etc/`).join('');
    const errors = slurmErrors(log);
    if (!ok && !log.includes('fatal') && errors.length === 0) errors.push(`slurmctld neither reached "${RUNNING}" nor reported a fatal error`);
    return { ok, errors, log };
  } finally {
    if (proc) await stopSandboxed(proc, 0);
    await deleteNamespace(ns);
    removeSandboxDir(dir);
  }
}

export interface RunResult {
  /** Exit code; -1 when killed (timeout). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ClusterContext {
  /** The sandbox directory (logs in ./log, conf in ./etc; commands and jobs run in ./work). */
  readonly dir: string;
  /** Path of the sandboxed slurm.conf. */
  readonly confPath: string;
  readonly head: SlurmHost;
  readonly nodes: readonly SlurmHost[];
  /** Runs a client command as root with SLURM_CONF set, in the head namespace unless `ns` names a node. */
  run(cmd: readonly string[], opts?: { ns?: string; timeoutMs?: number }): Promise<RunResult>;
  /** What a daemon has printed so far: 'slurmctld' or a node name. */
  log(daemon: string): string;
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs` naming `what`. */
export async function pollUntil(check: () => boolean | Promise<boolean>, o: { timeoutMs: number; what: string; intervalMs?: number }): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
}

/**
 * Runs `fn` against a live cluster: munged, slurmctld in the head namespace (a bridge holding head.addr/prefix) and one
 * slurmd per node in its own namespace (veth eth0 on that bridge, hostname = node name). Always tears everything down.
 */
export async function withLabCluster(
  confText: string,
  nodes: readonly SlurmHost[],
  head: SlurmHost,
  fn: (ctx: ClusterContext) => Promise<void>,
  opts: ConfFiles & { prefixLen?: number; configless?: boolean } = {},
): Promise<void> {
  await cleanStaleSandboxes();
  const id = nextSandboxId();
  const prefix = opts.prefixLen ?? 24;
  const headNs = `${id}-h`;
  const nodeNs = new Map(nodes.map((n, i) => [n.name, `${id}-n${i}`]));
  const procs: ChildProcess[] = [];
  const dir = makeSandboxDir(id);
  try {
    const munge = await startMunge(dir);
    procs.push(munge.proc);
    const conf = prepareSandbox(dir, confText, munge.socket, [head, ...nodes], opts);
    for (const n of nodes) mkdirSync(`${dir}/spool/${n.name}`, { mode: 0o755 });
    await addNamespace(headNs);
    await ipBatch(['link add herdbr0 type bridge', `addr add ${head.addr}/${prefix} dev herdbr0`, 'link set herdbr0 up'], headNs);
    for (const [i, n] of nodes.entries()) {
      const ns = nodeNs.get(n.name)!;
      await addNamespace(ns);
      await ipBatch([`link add v${i} type veth peer name eth0 netns ${ns}`, `link set v${i} master herdbr0`, `link set v${i} up`], headNs);
      await ipBatch([`addr add ${n.addr}/${prefix} dev eth0`, 'link set eth0 up'], ns);
    }
    mkdirSync(`${dir}/work`, { mode: 0o755 });
    const files = (host: string, env: Record<string, string> = { SLURM_CONF: conf }): { hostsFile: string; resolvFile: string; env: Record<string, string>; hostname: string; cwd: string; root?: string } => ({
      hostsFile: `${dir}/etc/hosts`, resolvFile: `${dir}/etc/resolv.conf`, env, hostname: host, cwd: `${dir}/work`, root: opts.root,
    });
    const outFile = (daemon: string): string => `${dir}/log/${daemon}.out`;
    const start = (daemon: string, cmd: string[], ns: string, host: string, cgroup: boolean, env?: Record<string, string>): ChildProcess => {
      const fd = openSync(outFile(daemon), 'a');
      const p = spawnSandboxed(cmd, { ns, cgroup, output: fd, ...files(host, env) });
      closeSync(fd);
      procs.push(p);
      return p;
    };
    const log = (daemon: string): string => (existsSync(outFile(daemon)) ? readFileSync(outFile(daemon), 'utf8') : '');

    const ctld = start('slurmctld', ['slurmctld', '-D', '-c'], headNs, head.name, false);
    await pollUntil(() => log('slurmctld').includes(RUNNING) || ctld.exitCode !== null, { timeoutMs: 20_000, what: 'slurmctld to start' })
      .catch(() => undefined);
    if (!log('slurmctld').includes(RUNNING)) throw new Error(`slurmctld did not start:\n${log('slurmctld')}`);
    for (const n of nodes) {
      // Configless: slurmd has no slurm.conf of its own and fetches it from slurmctld, as herd's overlay tells it to.
      // Before it has a configuration, slurmd authenticates through munge's default socket: in the node's private mount
      // namespace, a tmpfs on /run holds /run/munge/munge.socket.2 pointing at the sandbox's munged.
      if (opts.configless) {
        const sh = 'mount -t tmpfs herd-run /run && mkdir /run/munge && ln -s "$0" /run/munge/munge.socket.2 && exec "$@"';
        start(n.name, ['sh', '-c', sh, munge.socket, 'slurmd', '-D', '-N', n.name, '--conf-server', `${head.addr}:6817`], nodeNs.get(n.name)!, n.name, true, {});
      }
      else start(n.name, ['slurmd', '-D', '-N', n.name], nodeNs.get(n.name)!, n.name, true);
    }

    const run = async (cmd: readonly string[], o: { ns?: string; timeoutMs?: number } = {}): Promise<RunResult> => {
      const ns = o.ns === undefined ? headNs : nodeNs.get(o.ns);
      if (ns === undefined) throw new Error(`no node named ${o.ns}`);
      const p = spawnSandboxed(cmd, { ns, output: 'pipe', ...files(o.ns ?? head.name) });
      let stdout = '';
      let stderr = '';
      p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const closed = new Promise<void>((r) => p.on('close', () => r()));
      if (!(await waitExit(p, o.timeoutMs ?? 60_000))) await stopSandboxed(p, 0);
      await closed;
      return { code: p.exitCode ?? -1, stdout, stderr };
    };
    await fn({ dir, confPath: conf, head, nodes, run, log });
  } finally {
    // Slurm daemons get a short grace period (their state is thrown away anyway); munged (procs[0]) goes last.
    await Promise.all(procs.slice(1).map((p) => stopSandboxed(p, 1000)));
    if (procs[0]) await stopSandboxed(procs[0], 500);
    for (const ns of nodeNs.values()) await deleteNamespace(ns);
    await deleteNamespace(headNs);
    removeSandboxDir(dir);
  }
}

/** `scontrol show hostnames EXPR` with a controller-less conf. scontrol exits 0 even on invalid input: judge by `errors`. */
export async function scontrolHostnames(expr: string): Promise<{ names: string[]; errors: string[] }> {
  return (await scontrolHostnamesBatch([expr]))[0]!;
}

/** `scontrolHostnames` for many expressions in one shell (one scontrol process each, without a Node spawn each). */
export async function scontrolHostnamesBatch(exprs: readonly string[]): Promise<{ names: string[]; errors: string[] }[]> {
  const out = await scontrolBatch('hostnames', exprs);
  return out.map((r) => ({ names: r.stdout.split('\n').filter((l) => l !== ''), errors: r.errors }));
}

/** `scontrol show hostlist NAMES` (names joined by commas, order and duplicates kept, as scontrol does). */
export async function scontrolHostlist(names: readonly string[]): Promise<{ hostlist: string; errors: string[] }> {
  return (await scontrolHostlistBatch([names]))[0]!;
}

export async function scontrolHostlistBatch(lists: readonly (readonly string[])[]): Promise<{ hostlist: string; errors: string[] }[]> {
  const out = await scontrolBatch('hostlist', lists.map((l) => l.join(',')));
  return out.map((r) => ({ hostlist: r.stdout.trim(), errors: r.errors }));
}

let minimalConf: string | undefined;
const MARK = '@@herdt-end@@';

/** Runs `scontrol show WHAT ARG` per argument in one shell, splitting both streams at a marker echoed after each. */
async function scontrolBatch(what: 'hostnames' | 'hostlist', args: readonly string[]): Promise<{ stdout: string; errors: string[] }[]> {
  if (args.length === 0) return [];
  if (minimalConf === undefined) {
    await cleanStaleSandboxes();
    minimalConf = `${makeSandboxDir(`${nextSandboxId()}-scontrol`)}/slurm.conf`;
    // Without a readable conf scontrol would look for one via DNS SRV records: never let it.
    writeFileSync(minimalConf, 'ClusterName=herdt\nSlurmctldHost=localhost(127.0.0.1)\n');
  }
  const script = `for a in "$@"; do scontrol show ${what} "$a"; echo ${MARK}; echo ${MARK} >&2; done`;
  const r = await execFileP('sh', ['-c', script, 'sh', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SLURM_CONF: minimalConf },
    maxBuffer: 256 * 1024 * 1024,
  });
  const outs = r.stdout.split(`${MARK}\n`);
  const errs = r.stderr.split(`${MARK}\n`);
  return args.map((_, i) => ({ stdout: outs[i] ?? '', errors: (errs[i] ?? '').split('\n').filter((l) => l.trim() !== '') }));
}
