// Test harness for herd rollout (impure; needs root): the lab cluster of harness.ts with a RebootProgram that "reboots" a node by restarting
// its slurmd with -b (so slurmctld sees a new BootTime), and an scontrol wrapper that runs the real scontrol in the head's network namespace.
//
// How a reboot happens here: slurmd runs RebootProgram, which appends "<node> <epoch>" to reboots.log (the record the tests assert order
// from). A driver in this process watches that log; for each new line it stops that node's slurmd (as a reboot would) and, unless the test
// said the node never returns, starts a new `slurmd -D -b` in the node's namespace. Slurm itself decides everything else (states, flags,
// BootTime, "reboot timed out" after ResumeTimeout): nothing of Slurm's behaviour is imitated.
import { type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pollUntil, withLabCluster, type ClusterContext, type SlurmHost } from './harness.ts';
import { makeSandboxDir, nextSandboxId, removeSandboxDir, spawnSandboxed, stopSandboxed, waitExit } from './namespaces.ts';

export interface RolloutCluster {
  readonly ctx: ClusterContext;
  /** Executable that runs the real scontrol in the head namespace with the sandbox's SLURM_CONF: herd rollout --scontrol PATH. */
  readonly scontrol: string;
  /** Nodes in the order RebootProgram ran on them (one entry per reboot request slurmd carried out). */
  rebootLog(): string[];
  /** `scontrol show node -o` for every node, as a map name -> line. */
  showNodes(): Promise<Map<string, string>>;
}

export interface RolloutClusterOptions {
  /** Nodes whose slurmd is stopped by the "reboot" and never started again. */
  readonly neverReturn?: readonly string[];
  /** Seconds slurmctld waits for a rebooting node before marking it DOWN ("reboot timed out"). */
  readonly resumeTimeout?: number;
}

/** A minimal slurm.conf for `nodes` (10.77.0.x) with RebootProgram added after start (the sandbox rewrite drops site programs). */
function confFor(head: SlurmHost, nodes: readonly SlurmHost[], resumeTimeout: number): string {
  return [
    'ClusterName=herdroll',
    `SlurmctldHost=${head.name}(${head.addr})`,
    'AuthType=auth/munge',
    'SchedulerType=sched/backfill',
    'SelectType=select/cons_tres',
    'ReturnToService=2',
    `ResumeTimeout=${resumeTimeout}`,
    'SlurmdTimeout=30',
    ...nodes.map((n) => `NodeName=${n.name} NodeAddr=${n.addr} CPUs=1 RealMemory=100 State=UNKNOWN`),
    `PartitionName=all Nodes=${nodes.map((n) => n.name).join(',')} Default=YES State=UP`,
    '',
  ].join('\n');
}

/** Host pids of the slurmd processes in the network namespace whose inode is `netInode` (ours: started by the lab harness or by us). */
function slurmdPidsIn(netInode: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== 'slurmd') continue;
      if (readlinkSync(`/proc/${e}/ns/net`) === netInode) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Running, not a zombie waiting for its parent to reap it (it has exited: the node's slurmd is down). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** Runs `fn` against a live cluster of `names` (c1, c2, ...) whose nodes reboot through slurmd restarts; always tears everything down. */
export async function withRolloutCluster(names: readonly string[], opts: RolloutClusterOptions, fn: (c: RolloutCluster) => Promise<void>): Promise<void> {
  const head = { name: 'head', addr: '10.77.0.1' };
  const nodes = names.map((name, i) => ({ name, addr: `10.77.0.${i + 2}` }));
  const own = makeSandboxDir(`${nextSandboxId()}-rollout`);
  const log = `${own}/reboots.log`;
  writeFileSync(log, '');
  chmodSync(log, 0o666);
  // The node's hostname (its UTS namespace) names it; RebootProgram is run by slurmd, as root, in the node's namespaces.
  const program = `${own}/reboot-program`;
  writeFileSync(program, `#!/bin/sh\necho "$(hostname) $(date +%s)" >> ${log}\n`);
  chmodSync(program, 0o755);
  const ours = new Map<string, ChildProcess>();
  let stopDriver = false;
  let driver: Promise<void> | undefined;
  try {
    await withLabCluster(confFor(head, nodes, opts.resumeTimeout ?? 60), nodes, head, async (ctx) => {
      const id = basename(ctx.dir).slice(0, basename(ctx.dir).lastIndexOf('-'));
      const nsOf = (name: string) => `${id}-n${names.indexOf(name)}`;
      for (const n of names) if (!existsSync(`/run/netns/${nsOf(n)}`)) throw new Error(`no network namespace ${nsOf(n)} for ${n}`);
      if (!existsSync(`/run/netns/${id}-h`)) throw new Error(`no head namespace ${id}-h`);
      // /run/netns/NAME is a bind mount of the namespace file: its inode is what /proc/PID/ns/net links to for processes inside it.
      const inode = (name: string) => `net:[${statSync(`/run/netns/${nsOf(name)}`, { bigint: true }).ino}]`;
      const scontrol = `${own}/scontrol`;
      writeFileSync(scontrol, `#!/bin/sh\nexec nsenter --net=/run/netns/${id}-h env SLURM_CONF=${ctx.confPath} scontrol "$@"\n`);
      chmodSync(scontrol, 0o755);

      // RebootProgram goes in after start (the sandbox rewrite drops it); slurmctld re-reads it on reconfigure, each slurmd at its (re)start below.
      appendFileSync(ctx.confPath, `RebootProgram=${program}\n`);
      const stopNode = async (name: string): Promise<void> => {
        const mine = ours.get(name);
        if (mine) {
          ours.delete(name);
          await stopSandboxed(mine, 5000);
          return;
        }
        const pids = slurmdPidsIn(inode(name));
        for (const pid of pids) process.kill(pid, 'SIGTERM');
        // A slurmd on a loaded machine may take its time over SIGTERM (it finishes talking to slurmctld first); what the
        // test needs is the node down, as a reboot would leave it, so a slurmd still up after a grace period is killed.
        try {
          await pollUntil(() => pids.every((p) => !alive(p)), { timeoutMs: 30_000, what: `slurmd of ${name} to stop` });
        } catch {
          for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
          await pollUntil(() => pids.every((p) => !alive(p)), { timeoutMs: 60_000, what: `slurmd of ${name} to die after SIGKILL` });
        }
      };
      const startNode = (name: string, args: readonly string[]): void => {
        const fd = openSync(`${ctx.dir}/log/${name}.out`, 'a');
        const p = spawnSandboxed(['slurmd', '-D', ...args, '-N', name], {
          ns: nsOf(name), hostname: name, hostsFile: `${ctx.dir}/etc/hosts`, resolvFile: `${ctx.dir}/etc/resolv.conf`,
          env: { SLURM_CONF: ctx.confPath }, cgroup: true, output: fd, cwd: `${ctx.dir}/work`,
        });
        closeSync(fd);
        ours.set(name, p);
      };
      const showNodes = async (): Promise<Map<string, string>> => {
        const r = await ctx.run(['scontrol', 'show', 'node', '-o']);
        return new Map(r.stdout.split('\n').filter((l) => l.startsWith('NodeName=')).map((l) => [/^NodeName=(\S+)/.exec(l)![1]!, l]));
      };
      const reconf = await ctx.run(['scontrol', 'reconfigure']);
      if (reconf.code !== 0) throw new Error(`scontrol reconfigure failed: ${reconf.stderr}`);
      await pollUntil(async () => (await ctx.run(['scontrol', 'show', 'config'])).stdout.includes(program), { timeoutMs: 60_000, what: 'slurmctld to read RebootProgram' });
      // Every slurmd restarted once so it reads RebootProgram (no -b: this is not a reboot, BootTime stays the machine's).
      for (const n of names) {
        await stopNode(n);
        startNode(n, []);
      }
      await pollUntil(async () => [...(await showNodes()).values()].filter((l) => /State=IDLE /.test(l)).length === names.length, { timeoutMs: 120_000, what: 'every node idle' })
        .catch(async (e: Error) => {
          throw new Error(`${e.message}\n${[...(await showNodes()).values()].join('\n')}\nslurmctld:\n${ctx.log('slurmctld')}`);
        });

      const handled = { lines: 0 };
      driver = (async () => {
        while (!stopDriver) {
          const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
          const fresh = lines.slice(handled.lines).map((l) => l.split(' ')).filter(([n]) => names.includes(n!));
          handled.lines = lines.length;
          // A reboot: the node's slurmd goes away; a node that comes back starts a fresh slurmd that reports a boot now (-b). Nodes of one
          // batch reboot side by side, as real ones do. slurmctld keeps boot and request times in whole seconds and counts a reboot
          // only from a boot time later than its request, so the new slurmd starts in a later second than RebootProgram ran (a
          // real reboot takes far longer): on a quiet machine a restart within the same second was never seen as a reboot.
          await Promise.all(fresh.map(async ([name, epoch]) => {
            await stopNode(name!);
            if ((opts.neverReturn ?? []).includes(name!)) return;
            const next = (Number(epoch) + 1) * 1000 + 100;
            if (Date.now() < next) await new Promise((r) => setTimeout(r, next - Date.now()));
            startNode(name!, ['-b']);
          }));
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        await fn({
          ctx,
          scontrol,
          rebootLog: () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]!),
          showNodes,
        });
      } finally {
        stopDriver = true;
        await driver;
        await Promise.all([...ours.values()].map((p) => stopSandboxed(p, 2000)));
        ours.clear();
      }
    });
  } finally {
    stopDriver = true;
    for (const p of ours.values()) if (!(await waitExit(p, 0))) await stopSandboxed(p, 0);
    removeSandboxDir(own);
  }
}
