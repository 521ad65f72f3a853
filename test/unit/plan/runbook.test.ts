// The after-apply runbook (pure): steps once each, in order, and the node sets it reads from the host and DHCP diffs.
import { describe, expect, it } from 'vitest';
import { artifactSet, textArtifact } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { hostEntryChanges, nextSteps } from '../../../src/plan/runbook.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';

const dnsmasq = (c2mac: string, c2ip: string) =>
  textArtifact({
    path: 'etc/dnsmasq.d/ww4-hosts.conf',
    text: `# hosts\ndhcp-host=52:54:00:aa:00:01,id:00:03:00:01:52:54:00:aa:00:01,set:warewulf,10.0.0.2,c1,infinite\ndhcp-host=${c2mac},id:00:03:00:01:${c2mac},set:warewulf,${c2ip},c2,infinite\n`,
    impact: { class: 'daemon-restart', service: 'dnsmasq', reason: 'dnsmasq reads /etc/dnsmasq.d only at start' },
  });
const hosts = (c2ip: string, extra = '') => textArtifact({ path: 'etc/hosts', text: `# Warewulf Server\n10.0.0.1 head warewulf\n# Entry for c1\n10.0.0.2 c1 c1-default\n# Entry for c2\n${c2ip} c2 c2-default\n${extra}`, block: { marker: '# Do not edit after this line' }, impact: { class: 'none' } });
const nodesConf = (v: string) => textArtifact({ path: 'etc/warewulf/nodes.conf', text: `# ${v}\n`, impact: { class: 'daemon-reload', service: 'warewulfd' } });
const wwConf = (v: string) => textArtifact({ path: 'etc/warewulf/warewulf.conf', text: `# ${v}\n`, impact: { class: 'daemon-restart', service: 'warewulfd' } });

async function stepsOf(before: Parameters<typeof artifactSet>[0], after: Parameters<typeof artifactSet>[0]) {
  const a = artifactSet(before);
  return nextSteps(planChanges(artifactSet(after), manifestOf(a), live(await diskOf(a))));
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

describe('hostEntryChanges', () => {
  it('reads added, removed and re-addressed nodes from the hosts block diff', () => {
    const diff = ['--- a/etc/hosts', '+++ b/etc/hosts', '@@ -1,4 +1,4 @@', ' # Entry for c1', '-10.0.0.2 c1 c1-default', '+10.0.0.22 c1 c1-default', '-# Entry for c2', '-10.0.0.3 c2 c2-default', '+# Entry for c3', '+10.0.0.4 c3 c3-default'].join('\n');
    expect(hostEntryChanges(diff)).toEqual({ added: ['c3'], removed: ['c2'], changed: ['c1'] });
    expect(hostEntryChanges(undefined)).toBeUndefined();
  });
});
