// Integration: the slurm.conf herd generates for clusters/lab drives a live Slurm 22.05 cluster (controller + 2 slurmd in namespaces): idle nodes, srun, condo preemption;
// and, with slurm.version: "24.11", a live Slurm 24.11 cluster whose daemons and commands come from the Debian 13 root.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollUntil, withLabCluster, type ClusterContext } from './slurm/harness.ts';
import { compileExampleFor, missing2411, REQUIRE_RELEASES, SLURM_RELEASES } from './slurm/releases.ts';
import { compileSpecAt } from '../../src/pipeline.ts';

const compiled = await compileSpecAt('clusters/lab', new URL('../../', import.meta.url).pathname, { images: false });
const lab = new TextDecoder().decode(compiled.artifacts!.artifacts.find((a) => a.path === 'etc/slurm/slurm.conf')!.bytes!);
const head = { name: 'head', addr: '10.0.0.1' };
const nodes = [
  { name: 'c1', addr: '10.0.0.2' },
  { name: 'c2', addr: '10.0.0.3' },
];

/** `node partition state` triples from sinfo, sorted. */
async function sinfoNodes(ctx: ClusterContext): Promise<string[]> {
  const r = await ctx.run(['sinfo', '--noheader', '--Node', '--format=%N %P %t']);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).join(' ')).sort();
}

const ALL_IDLE = ['c1 normal* idle', 'c1 owners idle', 'c2 normal* idle', 'c2 owners idle'];

async function waitIdle(ctx: ClusterContext): Promise<void> {
  let seen: string[] = [];
  await pollUntil(async () => JSON.stringify((seen = await sinfoNodes(ctx))) === JSON.stringify(ALL_IDLE), { timeoutMs: 30_000, what: 'c1 and c2 idle' })
    .catch((e: Error) => {
      throw new Error(`${e.message}; last sinfo: ${JSON.stringify(seen)}\nslurmctld:\n${ctx.log('slurmctld')}\nc1:\n${ctx.log('c1')}`);
    });
}

/** One job's fields from `scontrol show job -o`, e.g. {JobState: 'RUNNING', Restarts: '0', NodeList: 'c[1-2]'}. */
async function job(ctx: ClusterContext, id: string): Promise<Record<string, string>> {
  const r = await ctx.run(['scontrol', 'show', 'job', '-o', id]);
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries([...r.stdout.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1]!, m[2]!]));
}

async function sbatch(ctx: ClusterContext, args: string[]): Promise<string> {
  const r = await ctx.run(['sbatch', '--parsable', '--output=/dev/null', ...args]);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  expect(id).toMatch(/^\d+$/);
  return id;
}

describe('configless: slurmd with no slurm.conf of its own, pointed at slurmctld as herd-boot does', () => {
  it('fetches the configuration from slurmctld and runs srun -N2 -l hostname', async () => {
    const spec = readFileSync(new URL('../../clusters/lab/cluster.yaml', import.meta.url), 'utf8').replace(/^slurm:\n/m, 'slurm:\n  configless: true\n');
    const dir = mkdtempSync(join(tmpdir(), 'herd-configless-'));
    try {
      cpSync(new URL('../../clusters/lab', import.meta.url), dir, { recursive: true });
      writeFileSync(join(dir, 'cluster.yaml'), spec);
      const c = await compileSpecAt(dir, dir, { images: false });
      const conf = new TextDecoder().decode(c.artifacts!.artifacts.find((a) => a.path === 'etc/slurm/slurm.conf')!.bytes!);
      expect(conf).toMatch(/^SlurmctldParameters=enable_configless$/m);
      await withLabCluster(conf, nodes, head, async (ctx) => {
        await waitIdle(ctx);
        const r = await ctx.run(['srun', '-N2', '-l', 'hostname'], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['0: c1', '1: c2']);
      }, { configless: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('live lab cluster from the slurm.conf herd generates for clusters/lab', () => {
  it('shows c1 and c2 idle in partitions normal (default) and owners', async () => {
    await withLabCluster(lab, nodes, head, async (ctx) => {
      await waitIdle(ctx);
      expect(await sinfoNodes(ctx)).toEqual(ALL_IDLE);
    });
  });

  it('runs srun -N2 -l hostname on both nodes', async () => {
    await withLabCluster(lab, nodes, head, async (ctx) => {
      await waitIdle(ctx);
      const r = await ctx.run(['srun', '-N2', '-l', 'hostname'], { timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // Task lines arrive in completion order; the label says which task printed which.
      expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['0: c1', '1: c2']);
    });
  });

  it('an owners job preempts a running guest job, which is requeued', async () => {
    await withLabCluster(lab, nodes, head, async (ctx) => {
      await waitIdle(ctx);
      // CR_Core_Memory shares nodes by core: only jobs that need every core (--exclusive) compete, so only they preempt.
      const guest = await sbatch(ctx, ['--requeue', '--partition=normal', '--nodes=2', '--exclusive', '--wrap=sleep 300']);
      await pollUntil(async () => (await job(ctx, guest)).JobState === 'RUNNING', { timeoutMs: 30_000, what: `guest job ${guest} running` });
      expect((await job(ctx, guest)).NodeList).toBe('c[1-2]');

      const owner = await sbatch(ctx, ['--partition=owners', '--nodes=2', '--exclusive', '--wrap=sleep 300']);
      let g: Record<string, string> = {};
      let o: Record<string, string> = {};
      await pollUntil(
        async () => {
          [g, o] = [await job(ctx, guest), await job(ctx, owner)];
          return o.JobState === 'RUNNING' && g.JobState === 'PENDING';
        },
        { timeoutMs: 30_000, what: 'owner running and guest requeued' },
      ).catch((e: Error) => {
        const brief = (j: Record<string, string>): string => `${j.JobState}/${j.Reason} Restarts=${j.Restarts} NodeList=${j.NodeList}`;
        throw new Error(`${e.message}: guest ${brief(g)}, owner ${brief(o)}`);
      });
      expect(o.NodeList).toBe('c[1-2]');
      expect(o.Partition).toBe('owners');
      expect(g.Restarts).toBe('1');
      expect(g.Requeue).toBe('1');
      expect(ctx.log('slurmctld')).toContain(`preempted JobId=${guest} has been requeued to reclaim resources for JobId=${owner}`);
    });
  });
});

it.runIf(missing2411 !== undefined && REQUIRE_RELEASES)('the Slurm 24.11 root is built (CI_REQUIRE_ORACLE=1)', () => {
  expect(missing2411).toBeUndefined();
});

for (const release of SLURM_RELEASES.filter((r) => r.root !== undefined)) {
  describe(`live lab cluster on Slurm ${release.version} (slurm.version: "${release.version}")`, () => {
    it('reads herd\'s cgroup.conf, c1 and c2 go idle, srun -N2 runs, and an owners job preempts a guest job', async () => {
      const c = await compileExampleFor('lab', release.version);
      expect(c.errors).toEqual([]);
      await withLabCluster(c.slurmConf, nodes, head, async (ctx) => {
        await waitIdle(ctx);
        expect(ctx.log('slurmctld')).toContain(`slurmctld version ${release.version}.`);
        // 24.11's slurmctld parses cgroup.conf strictly (a defunct key is an error, an unknown one fatal), so reading it cleanly is the proof.
        expect(ctx.log('slurmctld')).not.toMatch(/No cgroup\.conf file|defunct|cgroup\.conf.*(error|invalid)/i);
        for (const n of ['c1', 'c2']) {
          expect(ctx.log(n)).toContain(`slurmd version ${release.version}.`);
          expect(ctx.log(n)).not.toMatch(/defunct|error:/i);
        }
        const r = await ctx.run(['srun', '-N2', '-l', 'hostname'], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['0: c1', '1: c2']);
        const guest = await sbatch(ctx, ['--requeue', '--partition=normal', '--nodes=2', '--exclusive', '--wrap=sleep 300']);
        await pollUntil(async () => (await job(ctx, guest)).JobState === 'RUNNING', { timeoutMs: 30_000, what: `guest job ${guest} running` });
        const owner = await sbatch(ctx, ['--partition=owners', '--nodes=2', '--exclusive', '--wrap=sleep 300']);
        await pollUntil(async () => (await job(ctx, owner)).JobState === 'RUNNING' && (await job(ctx, guest)).JobState === 'PENDING', { timeoutMs: 30_000, what: 'owner running and guest requeued' });
        expect((await job(ctx, guest)).Restarts).toBe('1');
      }, { files: { 'cgroup.conf': c.cgroupConf }, root: release.root });
    });

    it('configless: slurmd fetches slurm.conf from slurmctld and runs srun -N2 -l hostname', async () => {
      const c = await compileExampleFor('lab', release.version, (s) => s.replace(/^slurm:\n/m, 'slurm:\n  configless: true\n'));
      expect(c.slurmConf).toMatch(/^SlurmctldParameters=enable_configless$/m);
      await withLabCluster(c.slurmConf, nodes, head, async (ctx) => {
        await waitIdle(ctx);
        const r = await ctx.run(['srun', '-N2', '-l', 'hostname'], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['0: c1', '1: c2']);
        expect(ctx.log('c1')).toContain(`slurmd version ${release.version}.`);
      }, { configless: true, files: { 'cgroup.conf': c.cgroupConf }, root: release.root });
    });
  });
}
