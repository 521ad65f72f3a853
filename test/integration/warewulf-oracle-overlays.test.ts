// Integration: herd's wwinit and wwclient (read from a Warewulf install, templates rendered by herd's minimal renderer) equal
// what real Warewulf 4.6.5 renders for the same node (`wwctl overlay build -O wwinit,wwclient -o DIR c1`, the oracle built
// from the upstream tarball by /work/shared/oracles/warewulf/build.sh): every path, type, mode, uid, gid, content and link
// target. Both sides read the same install tree (the oracle's `make install` of the 4.6.5 overlays) and the same
// warewulf.conf (Warewulf's Include reads it from beside nodes.conf). The oracle has no wwclient binary (not buildable
// offline), so neither side has /warewulf/wwclient. Skipped when the oracle is not built, unless CI_REQUIRE_ORACLE=1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpecFromDisk } from '../../src/spec/load-from-disk.ts';
import { compileConfig } from '../../src/compile/compile-cluster.ts';
import type { ClusterModel } from '../../src/spec/model.ts';
import { ConfinedDir } from '../../src/fs/confined-dir.ts';
import { readInstallOverlay, renderInstallOverlay } from '../../src/overlay/warewulf-install.ts';
import type { OverlayFile } from '../../src/overlay/types.ts';
import { labVariant } from '../fixtures/lab-variant.ts';
import { readTreeEntries } from '../fixtures/tree-hash.ts';

const repo = new URL('../../', import.meta.url).pathname;
const WORK = process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle';
const BIN = join(WORK, 'bin/wworacle');
const INSTALL = '/usr/share/warewulf/overlays';
const oracleDir = [process.env.HERD_WW_ORACLE, join(repo, '../shared/oracles/warewulf'), '/work/shared/oracles/warewulf'].find((d): d is string => d !== undefined && existsSync(join(d, 'run.sh')));
const haveOracle = existsSync(BIN) && oracleDir !== undefined;
const required = process.env.CI_REQUIRE_ORACLE === '1';
/** The oracle is Warewulf 4.6.5 (the lab spec targets 4.6.4, whose wwinit differs: 50-ipmi is no template there). */
const ORACLE_RELEASE = '4.6.5';

interface Seen {
  type: 'file' | 'directory' | 'symlink';
  mode: string;
  uid: number;
  gid: number;
  target?: string;
  content?: string;
}

/** The tree Warewulf wrote, as comparable records (content as text when printable, so a diff is readable). */
function readTree(dir: string): Map<string, Seen> {
  return new Map([...readTreeEntries(dir)].map(([p, e]) => [p, { type: e.type, mode: e.mode.toString(8), uid: e.uid, gid: e.gid, ...(e.target !== undefined ? { target: e.target } : {}), ...(e.content !== undefined ? { content: e.content.toString('latin1') } : {}) }]));
}

function herdTree(files: readonly OverlayFile[]): Map<string, Seen> {
  const out = new Map<string, Seen>();
  for (const f of files) {
    const base = { mode: f.mode.toString(8), uid: f.uid, gid: f.gid };
    const seen: Seen =
      f.type === 'file'
        ? { type: 'file', ...base, content: (typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : Buffer.from(f.content ?? new Uint8Array())).toString('latin1') }
        : f.type === 'symlink'
          ? { type: 'symlink', ...base, target: f.target! }
          : { type: 'directory', ...base };
    const before = out.get(f.path);
    // wwinit and wwclient share etc/ and warewulf/init.d: the same directory twice must agree.
    if (before !== undefined) expect(seen, `${f.path} from both overlays`).toEqual(before);
    out.set(f.path, seen);
  }
  return out;
}

const scratch = mkdtempSync(join(tmpdir(), 'herd-ww-oracle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Warewulf's rendering of wwinit,wwclient for `node`, with `warewulfConf` beside nodes.conf (umask 0: `-o` applies it). */
function oracleRender(tag: string, nodesConf: string, warewulfConf: string, node: string): Map<string, Seen> {
  const etc = join(scratch, tag, 'etc/warewulf');
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'nodes.conf'), nodesConf);
  writeFileSync(join(etc, 'warewulf.conf'), warewulfConf);
  const out = join(scratch, tag, 'out');
  // No site overlays: an empty folder of ours (run.sh's `-` leaves a fresh temp dir behind on every call).
  const site = join(scratch, tag, 'site');
  mkdirSync(site);
  const env = { ...process.env };
  delete env.WAREWULF_CONF;
  execFileSync('bash', ['-c', 'umask 0; exec bash "$0" "$@"', join(oracleDir!, 'run.sh'), 'overlay-dir', join(etc, 'nodes.conf'), site, out, node, 'wwinit,wwclient'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  return readTree(out);
}

/** herd's wwinit + wwclient for `node`, read from the oracle's install tree. */
function herdRender(version: Parameters<typeof renderInstallOverlay>[1], data: Parameters<typeof renderInstallOverlay>[2]): Map<string, Seen> {
  const head = ConfinedDir.open(join(WORK, 'root'), { what: 'head root' });
  try {
    const files: OverlayFile[] = [];
    for (const name of ['wwinit', 'wwclient'] as const) {
      const o = readInstallOverlay(head, INSTALL, name);
      if ('missing' in o) throw new Error(o.missing);
      const r = renderInstallOverlay(o, version, data, INSTALL);
      if ('problems' in r) throw new Error(r.problems.map((p) => p.message).join('\n'));
      files.push(...r.files);
    }
    return herdTree(files);
  } finally {
    head.close();
  }
}

/** The lab's model and its compiled nodes.conf and warewulf.conf (config only: no images, no overlays). */
function lab(): { model: ClusterModel; nodesConf: string; warewulfConf: string } {
  const spec = loadSpecFromDisk('clusters/lab', repo);
  expect(spec.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const config = compileConfig(spec.model!, { specDisplayPath: spec.displayPath });
  const text = (p: string): string => new TextDecoder().decode(config.find((a) => a.path === p)!.bytes!);
  return { model: spec.model!, nodesConf: text('etc/warewulf/nodes.conf'), warewulfConf: text('etc/warewulf/warewulf.conf') };
}

function expectSame(herd: Map<string, Seen>, ww: Map<string, Seen>): void {
  expect([...herd.keys()].sort()).toEqual([...ww.keys()].sort());
  for (const [p, seen] of ww) expect(herd.get(p), p).toEqual(seen);
}

/**
 * The lab with IPMI: `profileIpmi` on the compute profile, the BMC addresses counted from a range entry; compiled (with
 * `passwords` as read on the head) into its configuration files.
 */
function labWithIpmi(name: string, profileIpmi: string, passwords?: ReadonlyMap<string, string>): { model: ClusterModel; text: (path: string) => string } {
  const dir = labVariant(join(scratch, name), [
    ['    threads_per_core: 1\n', `    threads_per_core: 1\n    ipmi: { ${profileIpmi} }\n`],
    [/  c1: \{[^\n]*\n  c2: \{[^\n]*\n/, '  c[1-2]: { profiles: [compute], mac: ["52:54:00:aa:00:01", "52:54:00:aa:00:02"], address: 10.0.0.2, ipmi: { address: 10.1.0.11 } }\n'],
  ]);
  const spec = loadSpecFromDisk(dir, repo);
  expect(spec.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const config = compileConfig(spec.model!, { specDisplayPath: spec.displayPath, ...(passwords ? { ipmiPasswords: passwords } : {}) });
  return { model: spec.model!, text: (p) => new TextDecoder().decode(config.find((a) => a.path === p)!.bytes!) };
}

describe('wwinit and wwclient: herd = Warewulf 4.6.5', () => {
  it.runIf(required && !haveOracle)('the oracle is built (CI_REQUIRE_ORACLE=1)', () => {
    expect.fail(`CI_REQUIRE_ORACLE=1 but the Warewulf oracle is missing (${BIN} ${existsSync(BIN) ? 'exists' : 'missing'}, run.sh ${oracleDir ?? 'not found'}); run build.sh (see its NOTES.md)`);
  });

  it.skipIf(!haveOracle)("the lab's nodes c1 and c2, file by file", () => {
    const { model, nodesConf, warewulfConf } = lab();
    // What herd's renderer is told must be what nodes.conf tells Warewulf.
    expect(nodesConf).toMatch(/^ {4}root: initramfs$/m);
    expect(nodesConf).toMatch(/^ {4}init: \/sbin\/init$/m);
    for (const node of ['c1', 'c2']) {
      const n = model.nodes.find((x) => x.name === node)!;
      const ww = oracleRender(`lab-${node}`, nodesConf, warewulfConf, node);
      const herd = herdRender(ORACLE_RELEASE, { imageName: n.image, id: node, root: 'initramfs', init: '/sbin/init', warewulfConf });
      expectSame(herd, ww);
      // The comparison covers the interesting files (not an empty tree on both sides).
      for (const p of ['init', 'warewulf/config', 'warewulf/init.d/50-ipmi', 'warewulf/init.d/80-wwclient', 'etc/warewulf/warewulf.conf', 'warewulf/wwprescripts', 'etc/systemd/system/multi-user.target.wants/wwclient.service']) expect(ww.has(p), p).toBe(true);
      expect(ww.get('warewulf/config')!.content).toContain(`WWHOSTNAME=${node}\n`);
      expect(ww.get('warewulf/config')!.mode).toBe('600');
      expect(ww.get('init')!.mode).toBe('755');
    }
  });

  it.skipIf(!haveOracle)("the 4.6.5 install is refused for a spec that says 4.6.4 (the lab's release), naming the template", () => {
    const { model } = lab();
    expect(model.warewulf.version).toBe('4.6.4');
    const head = ConfinedDir.open(join(WORK, 'root'), { what: 'head root' });
    try {
      const o = readInstallOverlay(head, INSTALL, 'wwinit');
      if ('missing' in o) throw new Error(o.missing);
      const r = renderInstallOverlay(o, model.warewulf.version, { imageName: 'x', id: 'c1', root: 'initramfs', init: '/sbin/init', warewulfConf: '' }, INSTALL);
      expect('problems' in r ? r.problems.map((p) => [p.code, p.message]) : r).toEqual([['overlay/template-changed', `${INSTALL}/wwinit/rootfs/warewulf/init.d/50-ipmi.ww is not a template Warewulf 4.6.4 ships in wwinit`]]);
    } finally {
      head.close();
    }
  });

  it.skipIf(!haveOracle)("a node's BMC settings reach wwinit's /warewulf/config as Warewulf renders them (ipmi write, VLAN tag)", () => {
    const { model, text } = labWithIpmi('lab-ipmi', 'netmask: 255.255.255.0, gateway: 10.1.0.254, username: admin, interface: lanplus, write: true, tags: { vlan: "7" }');
    for (const node of ['c1', 'c2']) {
      const n = model.nodes.find((x) => x.name === node)!;
      const ww = oracleRender(`ipmi-${node}`, text('etc/warewulf/nodes.conf'), text('etc/warewulf/warewulf.conf'), node);
      const herd = herdRender(ORACLE_RELEASE, { imageName: n.image, id: node, root: 'initramfs', init: '/sbin/init', ...(n.ipmi ? { ipmi: n.ipmi } : {}), warewulfConf: text('etc/warewulf/warewulf.conf') });
      expectSame(herd, ww);
      const config = ww.get('warewulf/config')!.content!;
      expect(config).toContain(`WWIPMI_IPADDR="10.1.0.${node === 'c1' ? 11 : 12}"\n`);
      expect(config).toContain('WWIPMI_NETMASK="255.255.255.0"\n');
      expect(config).toContain('WWIPMI_USER="admin"\n');
      expect(config).toContain('WWIPMI_WRITE="true"\n');
      expect(config).toContain('WWIPMI_VLAN="7"');
    }
  });

  it.skipIf(!haveOracle)("a BMC password (ipmi.password_file, read on the head) reaches nodes.conf and wwinit's config as Warewulf renders it; both root-only", () => {
    const password = 'bmc-Pass.1';
    const { model, text } = labWithIpmi('lab-ipmi-password', 'netmask: 255.255.255.0, username: admin, write: true, password_file: .herd/bmc-password', new Map([['.herd/bmc-password', password]]));
    expect(text('etc/warewulf/nodes.conf')).toContain(`password: ${password}\n`);
    for (const node of ['c1', 'c2']) {
      const n = model.nodes.find((x) => x.name === node)!;
      const ww = oracleRender(`ipmi-pw-${node}`, text('etc/warewulf/nodes.conf'), text('etc/warewulf/warewulf.conf'), node);
      expect(ww.get('warewulf/config')!.content).toContain(`WWIPMI_PASSWORD="${password}"\n`);
      const herd = herdRender(ORACLE_RELEASE, { imageName: n.image, id: node, root: 'initramfs', init: '/sbin/init', ...(n.ipmi ? { ipmi: n.ipmi } : {}), ipmiPassword: password, warewulfConf: text('etc/warewulf/warewulf.conf') });
      // The template is installed 0600, so the password is root's alone on the node.
      expect(ww.get('warewulf/config')!.mode).toBe('600');
      expectSame(herd, ww);
      // And herd marks the file secret: a plan shows its hash, never a diff.
      const head = ConfinedDir.open(join(WORK, 'root'), { what: 'head root' });
      try {
        const o = readInstallOverlay(head, INSTALL, 'wwinit');
        if ('missing' in o) throw new Error(o.missing);
        const r = renderInstallOverlay(o, ORACLE_RELEASE, { imageName: n.image, id: node, root: 'initramfs', init: '/sbin/init', ...(n.ipmi ? { ipmi: n.ipmi } : {}), ipmiPassword: password, warewulfConf: text('etc/warewulf/warewulf.conf') }, INSTALL);
        if ('problems' in r) throw new Error(r.problems.map((p) => p.message).join('\n'));
        expect(r.files.filter((f) => f.hidden === 'secret').map((f) => f.path)).toEqual(['warewulf/config']);
      } finally {
        head.close();
      }
    }
  });

  it.skipIf(!haveOracle)("Include's one-newline trim: warewulf.conf with no or two trailing newlines (one: the lab case above)", () => {
    const { model, nodesConf, warewulfConf } = lab();
    const conf = warewulfConf.replace(/\n+$/, '');
    const n = model.nodes.find((x) => x.name === 'c1')!;
    for (const [tag, wc] of [['nl0', conf], ['nl2', conf + '\n\n']] as const) {
      const ww = oracleRender(`trim-${tag}`, nodesConf, wc, 'c1');
      const herd = herdRender(ORACLE_RELEASE, { imageName: n.image, id: 'c1', root: 'initramfs', init: '/sbin/init', warewulfConf: wc });
      expectSame(herd, ww);
    }
  });
});
