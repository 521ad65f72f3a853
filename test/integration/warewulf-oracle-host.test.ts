// Real Warewulf 4.6.5's host overlay (`wwctl configure` renders it: etc/hosts.ww, etc/exports.ww, etc/dnsmasq.d/ww4-hosts.conf.ww,
// etc/dhcp/dhcpd.conf.ww), rendered by the oracle in ../shared/oracles/warewulf from herd's own nodes.conf and warewulf.conf, says the same
// as herd's head files: so `wwctl configure` after herd apply changes nothing of meaning. Compared by meaning: address → names (hosts block),
// export path → network and options, MAC → address → name (DHCP), and every other DHCP line as written.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HOSTS_MARKER } from '../../src/compile/head-files.ts';
import { netdevsOf } from '../../src/compile/nodes-conf.ts';
import { compileSpecAt } from '../../src/pipeline.ts';
import { warewulfOracleDir } from '../fixtures/head-root.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ORACLE = warewulfOracleDir();
const BIN = join(process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle', 'bin', 'wworacle');
const HAVE = ORACLE !== undefined && existsSync(BIN);
const REQUIRED = process.env.CI_REQUIRE_ORACLE === '1';

const work = mkdtempSync(join(tmpdir(), 'herd-ww-host-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `wwctl overlay show --render` output without its backupFile/writeFile/Filename preamble. */
function render(nodesConf: string, node: string, template: string): string {
  const out = execFileSync('bash', [join(ORACLE!, 'run.sh'), 'render', nodesConf, '-', node, 'host', template], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Filename:'));
  return lines.slice(at + 1).join('\n');
}

const meaningful = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

/** address → sorted names, from host-table lines; `buildHost` (the name Warewulf takes from os.Hostname()) is read as `head`. */
function hostTable(text: string, head?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of meaningful(text)) {
    const [addr, ...names] = l.split(/\s+/);
    const isServer = names.includes('warewulf');
    out[addr!] = [...new Set(names.map((n, i) => (isServer && i === 0 && head ? head : n)))].sort().join(' ');
  }
  return out;
}

function prefixOf(mask: string): number {
  return mask.split('.').reduce((n, o) => n + Number(o).toString(2).replace(/0/g, '').length, 0);
}

/** export path → `network/prefix(options)`; Warewulf writes the netmask dotted, herd as a prefix length. */
function exportTable(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of meaningful(text)) {
    const m = /^(\S+)\s+([\d.]+)\/([\d.]+)\((.*)\)$/.exec(l)!;
    out[m[1]!] = `${m[2]}/${m[3]!.includes('.') ? prefixOf(m[3]!) : m[3]}(${m[4]})`;
  }
  return out;
}

describe.skipIf(!HAVE && !REQUIRED)("Warewulf 4.6.5's host overlay agrees with herd's head files", () => {
  it('has the oracle (CI builds it; CI_REQUIRE_ORACLE=1 makes its absence a failure)', () => {
    expect(HAVE, `Warewulf oracle missing: ${BIN} (run ${ORACLE ?? '../shared/oracles/warewulf'}/build.sh)`).toBe(true);
  });

  // The examples, and two labs with other network devices and IPv6 (a bond, its member, a VLAN, InfiniBand; dnsmasq and dhcpd).
  // The two DHCP servers again with `dhcp_template: default` (what Warewulf takes when warewulf.conf names none, so what an
  // imported site mostly keeps): the range only, no host entries, in Warewulf's render and in herd's file alike.
  const withDefaultTemplate = (cluster: string): string => {
    const dir = join(work, `${cluster.replace('/', '-')}-default-template`);
    mkdirSync(dir, { recursive: true });
    const text = readFileSync(join(REPO, 'test/fixtures', cluster, 'cluster.yaml'), 'utf8');
    const edited = text.replace(/layout: (\w+) \}/, 'layout: $1, dhcp_template: default }');
    if (edited === text) throw new Error(`${cluster}: no warewulf: line to edit`);
    writeFileSync(join(dir, 'cluster.yaml'), edited);
    return dir;
  };
  for (const cluster of ['lab', 'condo', 'net-clusters/dnsmasq', 'net-clusters/dhcpd', 'net-clusters/dnsmasq default', 'net-clusters/dhcpd default']) {
    it(`${cluster}: hosts block, exports and DHCP entries`, async () => {
      const [name, variant] = cluster.split(' ');
      const dir = variant ? withDefaultTemplate(name!) : join(REPO, cluster.startsWith('net-') ? 'test/fixtures' : 'clusters', cluster);
      const r = await compileSpecAt(dir, REPO, { images: false });
      expect(r.artifacts, JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error'))).toBeDefined();
      const art = (p: string) => r.artifacts!.artifacts.find((a) => a.path === p);
      const text = (p: string) => new TextDecoder().decode(art(p)!.bytes!);
      const etc = join(work, cluster.replace(/[/ ]/g, '-'), 'etc', 'warewulf');
      mkdirSync(etc, { recursive: true });
      for (const f of ['nodes.conf', 'warewulf.conf']) writeFileSync(join(etc, f), art(`etc/warewulf/${f}`)!.bytes!);
      const nodesConf = join(etc, 'nodes.conf');
      const model = r.model!;
      const node = model.nodes[0]!.name;

      // hosts: Warewulf keeps its machine's /etc/hosts above the marker (IncludeBlock); only the part after it is compared.
      expect(art('etc/hosts')!.block?.marker).toBe(HOSTS_MARKER);
      const wwHosts = render(nodesConf, node, 'etc/hosts.ww');
      const wwBlock = wwHosts.slice(wwHosts.indexOf(HOSTS_MARKER) + HOSTS_MARKER.length);
      const herdHosts = hostTable(text('etc/hosts'));
      const netdevs = model.nodes.flatMap((n) => netdevsOf(n).map((d) => ({ node: n.name, ...d })));
      expect(Object.keys(herdHosts).length).toBe(netdevs.filter((d) => d.address).length + 1);
      expect(hostTable(wwBlock, model.head.name)).toEqual(herdHosts);

      // exports: Warewulf 4.6.5 owns /etc/exports whole (no marker), from warewulf.conf's export paths.
      if (art('etc/exports')) expect(exportTable(render(nodesConf, node, 'etc/exports.ww'))).toEqual(exportTable(text('etc/exports')));

      // DHCP: the template static entries and every other line, as a multiset of non-comment lines.
      const dhcp = art('etc/dnsmasq.d/ww4-hosts.conf') ? ['etc/dnsmasq.d/ww4-hosts.conf', 'etc/dnsmasq.d/ww4-listen.conf'] : ['etc/dhcp/dhcpd.conf'];
      for (const p of dhcp) {
        const rendered = render(nodesConf, node, `${p}.ww`);
        expect(meaningful(rendered).sort()).toEqual(meaningful(text(p)).sort());
        // And byte for byte below the first line (Warewulf's "autogenerated" comment, herd's generated header).
        expect(text(p).slice(text(p).indexOf('\n')), p).toBe(rendered.slice(rendered.indexOf('\n')));
      }
      const entries = meaningful(text(dhcp[0]!)).filter((l) => l.startsWith('dhcp-host=') || l.startsWith('host '));
      expect(entries.length).toBe(variant ? 0 : netdevs.length);
      if (dhcp[0]!.includes('dnsmasq')) {
        const hostsLines = meaningful(text(dhcp[0]!)).filter((l) => l.startsWith('dhcp-host='));
        for (const n of variant ? [] : model.nodes) expect(hostsLines).toContain(`dhcp-host=${n.mac},id:00:03:00:01:${n.mac},set:warewulf,${n.address},${n.address6 ? `[${n.address6}],` : ''}${n.name},infinite`);
      }
    });
  }
});
