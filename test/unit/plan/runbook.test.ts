// The after-apply runbook (pure): steps once each, in order, and the node sets it reads from the host and DHCP diffs.
import { describe, expect, it } from 'vitest';
import { artifactSet, textArtifact } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { hostEntryChanges, nextSteps } from '../../../src/plan/runbook.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';
import type { SlurmVersion } from '../../../src/spec/slurm-keys.ts';

const dnsmasq = (c2mac: string, c2ip: string) =>
  textArtifact({
    path: 'etc/dnsmasq.d/ww4-hosts.conf',
    text: `# hosts\ndhcp-host=52:54:00:aa:00:01,id:00:03:00:01:52:54:00:aa:00:01,set:warewulf,10.0.0.2,c1,infinite\ndhcp-host=${c2mac},id:00:03:00:01:${c2mac},set:warewulf,${c2ip},c2,infinite\n`,
    impact: { class: 'daemon-restart', service: 'dnsmasq', reason: 'dnsmasq reads /etc/dnsmasq.d only at start' },
  });
const hosts = (c2ip: string, extra = '') => textArtifact({ path: 'etc/hosts', text: `# Warewulf Server\n10.0.0.1 head warewulf\n# Entry for c1\n10.0.0.2 c1 c1-default\n# Entry for c2\n${c2ip} c2 c2-default\n${extra}`, block: { marker: '# Do not edit after this line' }, impact: { class: 'none' } });
const nodesConf = (v: string) => textArtifact({ path: 'etc/warewulf/nodes.conf', text: `# ${v}\n`, impact: { class: 'daemon-reload', service: 'warewulfd' } });
const wwConf = (v: string) => textArtifact({ path: 'etc/warewulf/warewulf.conf', text: `# ${v}\n`, impact: { class: 'daemon-restart', service: 'warewulfd' } });

const slurmConf = (text: string) => textArtifact({ path: 'etc/slurm/slurm.conf', text: `ClusterName=lab\n${text}`, impact: { class: 'slurm-reconfigure' } });
const cgroupConf = (v: string) => textArtifact({ path: 'etc/slurm/cgroup.conf', text: `# ${v}\n`, nodes: ['c1', 'c2'], impact: { class: 'daemon-restart', service: 'slurmd' } });

async function stepsOf(before: Parameters<typeof artifactSet>[0], after: Parameters<typeof artifactSet>[0], slurmVersion?: SlurmVersion) {
  const a = artifactSet(before);
  const plan = planChanges(artifactSet(after), manifestOf(a), live(await diskOf(a)));
  return nextSteps(slurmVersion ? { ...plan, slurmVersion } : plan);
}

describe('nextSteps', () => {
  it("a node's MAC and address change: warewulfd reload, one dnsmasq restart, and a reboot of that node only, even with no overlay rebuilt", async () => {
    const steps = await stepsOf([dnsmasq('52:54:00:aa:00:02', '10.0.0.3'), hosts('10.0.0.3'), nodesConf('a')], [dnsmasq('52:54:00:aa:00:99', '10.0.0.30'), hosts('10.0.0.30'), nodesConf('b')]);
    expect(steps.map((s) => s.command)).toEqual(['systemctl reload warewulfd', 'systemctl restart dnsmasq', 'scontrol reboot ASAP nextstate=resume c2']);
    expect(steps[1]!.description).toContain('entries of c2 change');
  });

  it('warewulf.conf and nodes.conf together: one warewulfd restart, no reload, no wwctl configure', async () => {
    const steps = await stepsOf([nodesConf('a'), wwConf('a')], [nodesConf('b'), wwConf('b')]);
    expect(steps.map((s) => s.command)).toEqual(['systemctl restart warewulfd']);
    expect(steps.some((s) => /wwctl (configure|overlay build)/.test(s.command ?? ''))).toBe(false);
  });
});

describe('nextSteps follows the Slurm version', () => {
  const c3 = '# Entry for c3\n10.0.0.4 c3 c3-default\n';
  it('a node added: 22.05 restarts slurmctld and every slurmd; 24.11 only reconfigures', async () => {
    const before = [hosts('10.0.0.3'), slurmConf('NodeName=c[1-2]\n'), cgroupConf('a')];
    const after = [hosts('10.0.0.3', c3), slurmConf('NodeName=c[1-3]\n'), cgroupConf('a')];
    const old = await stepsOf(before, after);
    expect(old.filter((s) => s.command !== null).map((s) => s.command)).toEqual(['systemctl restart slurmctld', 'pdsh -w c[1-2] systemctl restart slurmd']);
    expect(old[0]!.description).toContain('Slurm 22.05 needs slurmctld and every slurmd restarted');
    expect(old.some((s) => s.command === 'scontrol reconfigure')).toBe(false);
    const v2411 = await stepsOf(before, after, '24.11');
    expect(v2411.filter((s) => s.command !== null).map((s) => s.command)).toEqual(['scontrol reconfigure']);
    expect(v2411[0]!.description).toContain('Slurm 24.11 takes nodes added or removed this way (c3 added)');
  });

  it('a node removed: drained first on both versions', async () => {
    const before = [hosts('10.0.0.3', c3), slurmConf('NodeName=c[1-3]\n')];
    const after = [hosts('10.0.0.3'), slurmConf('NodeName=c[1-2]\n')];
    for (const v of ['22.05', '24.11'] as const) {
      const steps = await stepsOf(before, after, v);
      expect(steps[0]!.command).toBe('scontrol update nodename=c3 state=drain reason="removed by herd"');
    }
  });

  it('a port or authentication change restarts slurmctld and every slurmd on every version (no reconfigure changes them)', async () => {
    for (const v of ['22.05', '24.11'] as const) {
      const steps = await stepsOf([hosts('10.0.0.3'), slurmConf('SlurmdPort=6818\n'), cgroupConf('a')], [hosts('10.0.0.3'), slurmConf('SlurmdPort=7000\n'), cgroupConf('a')], v);
      expect(steps.map((s) => s.command)).toEqual(['systemctl restart slurmctld', 'pdsh -w c[1-2] systemctl restart slurmd']);
      expect(steps[0]!.description).toContain('SlurmdPort changed');
    }
  });

  it('cgroup.conf alone: 22.05 restarts slurmd on the nodes; 24.11 reconfigures (slurmd restarts in place)', async () => {
    const before = [cgroupConf('a')];
    const after = [cgroupConf('b')];
    expect((await stepsOf(before, after)).map((s) => s.command)).toEqual(['pdsh -w c[1-2] systemctl restart slurmd']);
    expect((await stepsOf(before, after, '24.11')).map((s) => s.command)).toEqual(['scontrol reconfigure']);
  });

  it('a plain slurm.conf change: scontrol reconfigure on both, described per version', async () => {
    const before = [slurmConf('MaxJobCount=10\n')];
    const after = [slurmConf('MaxJobCount=20\n')];
    expect((await stepsOf(before, after))[0]!.description).toBe('Slurm: slurmctld and the slurmds re-read slurm.conf');
    expect((await stepsOf(before, after, '24.11'))[0]!.description).toMatch(/^Slurm 24\.11: slurmctld and every slurmd restart in place/);
  });
});

describe('hostEntryChanges', () => {
  it('reads added, removed and re-addressed nodes from the hosts block diff', () => {
    const diff = ['--- a/etc/hosts', '+++ b/etc/hosts', '@@ -1,4 +1,4 @@', ' # Entry for c1', '-10.0.0.2 c1 c1-default', '+10.0.0.22 c1 c1-default', '-# Entry for c2', '-10.0.0.3 c2 c2-default', '+# Entry for c3', '+10.0.0.4 c3 c3-default'].join('\n');
    expect(hostEntryChanges(diff)).toEqual({ added: ['c3'], removed: ['c2'], changed: ['c1'] });
    expect(hostEntryChanges(undefined)).toBeUndefined();
  });
});

describe('the runbook of a site adopted by herd import', () => {
  it("a netdev's host line (node1-bond0) counts for its node: from the entry it sits in, or the node its name extends", () => {
    const diff = ['--- a/etc/hosts', '+++ b/etc/hosts', '@@ -1,3 +1,3 @@', ' # Entry for c1', ' 10.0.0.2 c1 c1-default', '-172.16.0.2 c1-bond0 c1-bond0', '+172.16.0.22 c1-bond0 c1-bond0', '@@ -9,2 +9,2 @@', '-172.16.0.3 c2-ib0 c2-ib0', '+172.16.0.33 c2-ib0 c2-ib0'].join('\n');
    expect(hostEntryChanges(diff, new Set(['c1', 'c2', 'c2-x']))).toEqual({ added: [], removed: [], changed: ['c1', 'c2'] });
  });

  it('herd\'s hosts block appears where nodes.conf already was: no node is new, none is powered on or rebooted for it', async () => {
    const site = textArtifact({ path: 'etc/warewulf/nodes.conf', text: '# the site\'s\n', impact: { class: 'daemon-reload', service: 'warewulfd' } });
    const disk = await diskOf(artifactSet([site]));
    const plan = planChanges(artifactSet([hosts('10.0.0.3', '172.16.0.2 c1-bond0 c1-bond0\n'), nodesConf('herd'), slurmConf('NodeName=c[1-2]\n')]), manifestOf(artifactSet([])), live(disk));
    const steps = nextSteps(plan);
    expect(steps.map((s) => s.command)).toEqual(['systemctl reload warewulfd', 'scontrol reconfigure']);
    // A new cluster (no nodes.conf yet) still powers its nodes on.
    const fresh = nextSteps(planChanges(artifactSet([hosts('10.0.0.3'), nodesConf('herd')]), manifestOf(artifactSet([])), live(await diskOf(artifactSet([])))));
    expect(fresh.map((s) => s.description).join('\n')).toContain('power on c[1-2]');
  });

  it('slurm.conf lines that only move, or a restart-only key written with the value Slurm takes anyway, restart nothing', async () => {
    const before = [slurmConf('AuthType=auth/munge\nSlurmUser=slurm\n')];
    const after = [slurmConf('SlurmUser=slurm\nAuthType=auth/munge\nCredType=cred/munge\n')];
    expect((await stepsOf(before, after)).map((s) => s.command)).toEqual(['scontrol reconfigure']);
    const changed = await stepsOf(before, [slurmConf('SlurmUser=slurm\nAuthType=auth/munge\nCredType=cred/none\n')]);
    expect(changed[0]!.description).toContain('CredType changed');
  });
});
