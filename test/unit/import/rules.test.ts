// One case per import/... rule: each is reported for a small site that has exactly that problem, at the file:line:col
// where the problem is written (positions chosen by reading the inputs below, not by running the import).
import { describe, expect, it } from 'vitest';
import { IMPORT_RULES } from '../../../src/diagnostics/rule-catalog.ts';
import { importSite } from '../../../src/import/import-site.ts';
import { siteFromFiles } from './helpers.ts';

const NODES = (extra = '') => `nodeprofiles:
  default:
    image name: img
    network devices:
      default: { netmask: 255.255.255.0 }
nodes:
  c1:
    profiles: [default]
    network devices:
      default: { hwaddr: "52:54:00:00:00:01", ipaddr: 10.0.0.2 }${extra}
`;
const WW = 'ipaddr: 10.0.0.1\nnetmask: 255.255.255.0\n';
const SLURM = (nodes: string) => `ClusterName=t\nSlurmctldHost=head(10.0.0.1)\n${nodes}\nPartitionName=all Nodes=ALL Default=YES\n`;

function run(files: Record<string, string>) {
  return importSite(siteFromFiles(new Map(Object.entries(files))));
}
const at = (r: ReturnType<typeof run>, rule: string) => r.diagnostics.filter((d) => d.rule === rule).map((d) => `${d.file}:${d.line}:${d.column}`);

describe('import rules', () => {
  it('every import rule has a case here', () => {
    expect(Object.keys(IMPORT_RULES).sort()).toEqual(['import/changed-value', 'import/inferred-value', 'import/missing-file', 'import/node-mismatch', 'import/output-exists', 'import/slurm-syntax', 'import/unknown-key']);
  });

  it('import/missing-file: an Include that is not under the root', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES(), 'etc/warewulf/warewulf.conf': WW, 'etc/slurm/slurm.conf': 'ClusterName=t\nInclude extra.conf\n' });
    expect(at(r, 'import/missing-file')).toEqual(['etc/slurm/slurm.conf:2:1']);
    expect(r.specText).toBeUndefined();
  });

  it('import/unknown-key: ip6addr on a 4.6.5 site, and a misspelt key', () => {
    const nodes = NODES('\n    image nmae: x').replace('ipaddr: 10.0.0.2 }', 'ipaddr: 10.0.0.2, ip6addr: "fd00::2" }');
    const r = importSite(siteFromFiles(new Map([['etc/warewulf/nodes.conf', nodes], ['etc/warewulf/warewulf.conf', WW]])), { warewulfVersion: '4.6.5' });
    expect(at(r, 'import/unknown-key')).toEqual(['etc/warewulf/nodes.conf:10:65', 'etc/warewulf/nodes.conf:11:5']);
    expect(r.diagnostics.find((d) => d.rule === 'import/unknown-key')!.message).toContain('4.6.5 renamed it ipaddr6');
  });

  it('import/inferred-value: an IPMI password becomes a head file the spec names, reported at the line that sets it, by hash only', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES('\n    ipmi: { ipaddr: 10.1.0.2, password: "hunter2-bmc" }'), 'etc/warewulf/warewulf.conf': WW });
    const said = r.diagnostics.filter((d) => d.message.includes('BMC password'));
    expect(said.map((d) => `${d.rule} ${d.file}:${d.line}:${d.column}`)).toEqual(['import/inferred-value etc/warewulf/nodes.conf:11:41']);
    // Nothing changes meaning: nodes.conf keeps the password once the admin puts it in the file named.
    // (This minimal site gives no kernel arguments, which herd's spec then does: that one is not about the BMC.)
    expect(r.diagnostics.filter((d) => d.rule === 'import/changed-value' && d.message.includes('ipmi')).map((d) => d.message)).toEqual([]);
    expect(r.specText).toContain('password_file: /etc/herd/ipmi-password');
    expect(r.specText).toMatch(/ipmi: \{ address: 10\.1\.0\.2[,}]|address: 10\.1\.0\.2/);
    // The password is named only by its hash, anywhere in the output.
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('import/node-mismatch: a node only in slurm.conf, and a NodeAddr that differs', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES(), 'etc/warewulf/warewulf.conf': WW, 'etc/slurm/slurm.conf': SLURM('NodeName=c1 NodeAddr=10.0.0.9 CPUs=2\nNodeName=c2 NodeAddr=10.0.0.3 CPUs=2') });
    expect(at(r, 'import/node-mismatch')).toEqual(['etc/slurm/slurm.conf:3:13', 'etc/slurm/slurm.conf:4:1']);
  });

  it('import/slurm-syntax: a token without key=value', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES(), 'etc/warewulf/warewulf.conf': WW, 'etc/slurm/slurm.conf': SLURM('NodeName=c1 NodeAddr=10.0.0.2 CPUs=2 oops') });
    expect(at(r, 'import/slurm-syntax')).toEqual(['etc/slurm/slurm.conf:3:38']);
    expect(r.specText).toBeUndefined();
  });

  it('import/inferred-value: no trusted zone names the head NIC', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES(), 'etc/warewulf/warewulf.conf': WW });
    expect(at(r, 'import/inferred-value')).toContain('etc/warewulf/warewulf.conf:1:1');
    expect(r.specText).toContain('# inferred: the head\'s cluster NIC is in none of the site files; set it\n  interface: eth0');
  });

  it('source problems use herd\'s usual rules: duplicate MAC and address, NodeName without NodeAddr', () => {
    const twin = NODES() + '  c2:\n    profiles: [default]\n    network devices:\n      default: { hwaddr: "52:54:00:00:00:01", ipaddr: 10.0.0.2 }\n';
    const r = run({ 'etc/warewulf/nodes.conf': twin, 'etc/warewulf/warewulf.conf': WW, 'etc/slurm/slurm.conf': SLURM('NodeName=c1 CPUs=2\nNodeName=c2 NodeAddr=10.0.0.2 CPUs=2') });
    expect(at(r, 'net/duplicate-mac')).toEqual(['etc/warewulf/nodes.conf:14:26']);
    expect(at(r, 'net/duplicate-address')).toEqual(['etc/warewulf/nodes.conf:14:55']);
    expect(at(r, 'slurm/node-name-resolution')).toEqual(['etc/slurm/slurm.conf:3:1']);
    expect(r.specText).toBeUndefined();
  });

  it('a nodes.conf Warewulf itself would refuse: a netmask that is no IP, located, and no spec', () => {
    const r = run({ 'etc/warewulf/nodes.conf': NODES().replace('netmask: 255.255.255.0', 'netmask: 24'), 'etc/warewulf/warewulf.conf': WW });
    expect(at(r, 'net/malformed-address')).toEqual(['etc/warewulf/nodes.conf:5:27']);
    expect(r.specText).toBeUndefined();
  });

  it('bad input: malformed YAML and binary junk are located errors, and no spec comes out', () => {
    const bad = run({ 'etc/warewulf/nodes.conf': 'nodes:\n  c1: [\n' });
    expect(bad.diagnostics[0]!.rule).toBe('yaml/syntax');
    expect(bad.diagnostics[0]!.file).toBe('etc/warewulf/nodes.conf');
    expect(bad.specText).toBeUndefined();
    const junk = importSite({ ...siteFromFiles(new Map([['etc/warewulf/nodes.conf', NODES()]])), nodesConf: { file: 'etc/warewulf/nodes.conf', bytes: new Uint8Array([0x6e, 0x3a, 0x0a, 0x00, 0xff, 0xfe]) } });
    expect(junk.diagnostics.map((d) => `${d.rule} ${d.line}`)).toEqual(['yaml/encoding 1']);
    expect(junk.specText).toBeUndefined();
  });

  it('is deterministic: the same site gives the same bytes', () => {
    const files = { 'etc/warewulf/nodes.conf': NODES(), 'etc/warewulf/warewulf.conf': WW, 'etc/slurm/slurm.conf': SLURM('NodeName=c1 NodeAddr=10.0.0.2 CPUs=2') };
    expect(run(files).specText).toBe(run(files).specText);
  });
  it('net/missing-netmask: another netdev with an address but no netmask is a warning; the spec leaves the address out', () => {
    const nodes = NODES().replace('ipaddr: 10.0.0.2 }', 'ipaddr: 10.0.0.2 }\n      ib0: { type: infiniband, ipaddr: 10.30.0.2 }');
    const r = run({ 'etc/warewulf/nodes.conf': nodes, 'etc/warewulf/warewulf.conf': WW });
    expect(at(r, 'net/missing-netmask')).toEqual(['etc/warewulf/nodes.conf:11:40']);
    expect(r.specText).toContain('type: infiniband');
    expect(r.specText).not.toContain('10.30.0.2');
  });

  it("booleans as Warewulf reads them: an onboot of \"off\" is true (BoolDefaultTrue), a discoverable of \"on\" false (Bool)", () => {
    const nodes = NODES().replace('ipaddr: 10.0.0.2 }', 'ipaddr: 10.0.0.2 }\n      ib0: { type: infiniband, onboot: "off" }').replace('    profiles: [default]', '    profiles: [default]\n    discoverable: "on"');
    const r = run({ 'etc/warewulf/nodes.conf': nodes, 'etc/warewulf/warewulf.conf': WW });
    expect(r.specText).toBeDefined();
    expect(r.specText).toMatch(/ib0:\n\s+type: infiniband\n\s+onboot: true/);
    expect(r.specText).toContain('discoverable: false');
    // The rebuilt nodes.conf says true and false, which Warewulf reads as the site's "off" and "on": no change of meaning.
    expect(r.diagnostics.filter((d) => d.rule === 'import/changed-value' && /onboot|discoverable/.test(d.message))).toEqual([]);
  });

  it('net/missing-prefix6: an IPv6 address without a prefix is a warning at the site line, not in the written spec; the spec keeps the address', () => {
    const nodes = NODES().replace('ipaddr: 10.0.0.2 }', 'ipaddr: 10.0.0.2, ipaddr6: "fd00::2" }');
    const r = run({ 'etc/warewulf/nodes.conf': nodes, 'etc/warewulf/warewulf.conf': WW });
    const line = nodes.split('\n').findIndex((l) => l.includes('ipaddr6'));
    expect(at(r, 'net/missing-prefix6')).toEqual([`etc/warewulf/nodes.conf:${line + 1}:${nodes.split('\n')[line]!.indexOf('"fd00::2"') + 1}`]);
    expect(r.specText).toBeDefined();
    expect(r.specText).toContain('fd00::2');
    expect(r.diagnostics.filter((d) => d.rule === 'net/missing-prefix6' && d.file !== 'etc/warewulf/nodes.conf')).toEqual([]);
    // With a prefix, nothing is reported.
    const withPrefix = run({ 'etc/warewulf/nodes.conf': nodes.replace('ipaddr6: "fd00::2"', 'ipaddr6: "fd00::2", prefixlen6: "64"'), 'etc/warewulf/warewulf.conf': WW });
    expect(at(withPrefix, 'net/missing-prefix6')).toEqual([]);
    expect(withPrefix.specText).toContain('fd00::2');
  });
});
