import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, beforeAll } from 'vitest';
import { generateRangedSpec } from '../../../bench/validate.ts';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import type { ClusterModel, OverlayModel } from '../../../src/spec/model.ts';
import { nodeRecord, NODE_RECORD_VERSION, type NodeRecord } from '../../../src/overlay/node-record.ts';
import { compileSiteOverlay, renderSiteOverlay, type CompiledSiteOverlay, type SiteOverlayFiles, loadTemplateEngine } from '../../../src/overlay/site-overlay.ts';

beforeAll(loadTemplateEngine);
import type { AccountLookup, BuiltinResult, OverlayFile, OverlayProblem } from '../../../src/overlay/types.ts';

const root = new URL('../../../', import.meta.url).pathname;
const enc = new TextEncoder();

function model(nodes: string, nodeList: string): ClusterModel {
  const text = `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: h, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/16, gateway: 10.0.0.1, dns: [10.0.0.1, 10.0.0.2], domain: t.example, interface: eth0 }
nfs: { /home: {} }
images: { i: { source: "oci:x", size: 2GiB, requires: [slurmd, munged, mount.nfs] } }
defaults: { image: i, memory: 8GiB, cpus: 4, sockets: 1, cores_per_socket: 4, threads_per_core: 1, device: eth0 }
${nodes}
slurm:
  partitions:
    normal: { nodes: "${nodeList}", default: true, max_time: "1:00:00" }
`;
  const r = checkSpec('clusters/t/cluster.yaml', text, () => ({ overlayFiles: {} }));
  if (!r.model) throw new Error(`spec did not resolve: ${JSON.stringify(r.diagnostics)}`);
  return r.model;
}

const AT = { file: 'clusters/t/cluster.yaml', path: ['overlays', 'site'], line: 20, column: 3 };

/** An overlay model and its folder's bytes from a file table: `path: text` (mode 0644), or `path: [text, mode]`. */
function overlay(table: Record<string, string | [string, number]>, extra: { symlinks?: Record<string, string>; owners?: Record<string, string> } = {}): { o: OverlayModel; src: SiteOverlayFiles } {
  const files = new Map<string, { bytes: Uint8Array; mode: number }>();
  for (const [p, v] of Object.entries(table)) files.set(p, typeof v === 'string' ? { bytes: enc.encode(v), mode: 0o644 } : { bytes: enc.encode(v[0]), mode: v[1] });
  const symlinks = extra.symlinks ?? {};
  const owners = Object.fromEntries(
    Object.entries(extra.owners ?? {}).map(([p, who], i) => [p, { user: who.split(':')[0]!, group: who.split(':')[1] ?? who.split(':')[0]!, at: { file: AT.file, path: ['overlays', 'site', 'owners', p], line: 30 + i, column: 7 } }]),
  );
  const o: OverlayModel = {
    name: 'site',
    kind: 'runtime',
    builtin: false,
    source: 'overlays/site',
    files: [...files.keys(), ...Object.keys(symlinks)].sort(),
    ...(Object.keys(symlinks).length > 0 ? { symlinks } : {}),
    ...(Object.keys(owners).length > 0 ? { owners } : {}),
    at: AT,
  };
  return { o, src: { files, symlinks: new Map(Object.entries(symlinks)) } };
}

function compiled(table: Record<string, string | [string, number]>, extra?: Parameters<typeof overlay>[1]): CompiledSiteOverlay {
  const { o, src } = overlay(table, extra);
  const c = compileSiteOverlay(o, src);
  if ('problems' in c) throw new Error(`did not compile: ${JSON.stringify(c.problems)}`);
  return c;
}

function problemsOf(r: BuiltinResult | { problems: OverlayProblem[] } | CompiledSiteOverlay): readonly OverlayProblem[] {
  if (!('problems' in r)) throw new Error(`expected problems, got ${JSON.stringify(r)}`);
  return r.problems;
}

function filesOf(r: BuiltinResult): readonly OverlayFile[] {
  if ('problems' in r) throw new Error(`expected files, got ${JSON.stringify(r.problems)}`);
  return r.files;
}

const text = (f: OverlayFile | undefined): string => (typeof f?.content === 'string' ? f.content : new TextDecoder().decode(f?.content));

const accounts: AccountLookup = {
  uid: (n) => ({ root: 0, slurm: 202, munge: 995 })[n],
  gid: (n) => ({ root: 0, slurm: 202, munge: 995, wheel: 10 })[n],
};

const lab = model(`nodes:
  c1: { mac: "52:54:00:aa:00:01", address: 10.0.0.2, tags: { rack: r1 } }
  c2: { mac: "52:54:00:aa:00:02", address: 10.0.0.3 }`, 'c[1-2]');
const c1 = nodeRecord(lab, lab.nodes[0]!);
const c2 = nodeRecord(lab, lab.nodes[1]!);

describe('node record', () => {
  it('carries the documented fields, optional ones only when set', () => {
    expect(c1).toMatchObject({
      recordVersion: NODE_RECORD_VERSION, name: 'c1', id: 1, cluster: 't', image: 'i', address: '10.0.0.2', prefix: 16,
      netmask: '255.255.0.0', cidr: '10.0.0.2/16', gateway: '10.0.0.1', mac: '52:54:00:aa:00:01', device: 'eth0',
      dns: ['10.0.0.1', '10.0.0.2'], domain: 't.example', tags: { rack: 'r1' }, partitions: ['normal'],
      netdevs: { default: { device: 'eth0', mac: '52:54:00:aa:00:01', address: '10.0.0.2', prefix: 16, netmask: '255.255.0.0', gateway: '10.0.0.1' } },
      head: { name: 'h', address: '10.0.0.1' },
      slurm: { cpus: 4, sockets: 1, coresPerSocket: 4, threadsPerCore: 1, features: [] },
      nfs: [{ mountPoint: '/home', server: '10.0.0.1', export: '/home' }],
      nodes: [{ name: 'c1', address: '10.0.0.2' }, { name: 'c2', address: '10.0.0.3' }],
    });
    expect(c2.id).toBe(2);
    expect(c1.slurm.realMemoryMiB).toBeGreaterThan(0);
    // Absent, not undefined: strict mode can only flag a key that is not there.
    expect(Object.hasOwn(c1, 'mtu')).toBe(false);
    expect(Object.hasOwn(c1.slurm, 'gpus')).toBe(false);
    expect(Object.isFrozen(c1) && Object.isFrozen(c1.slurm)).toBe(true);
  });

  it('shares the all-nodes list between the records of one model', () => {
    expect(c1.nodes).toBe(c2.nodes);
    expect(c1.head).toBe(c2.head);
  });
});

describe('site overlay templates', () => {
  it('render per node in strict mode without HTML escaping; plain files, modes and symlinks are kept', () => {
    const c = compiled(
      {
        'etc/issue.net.hbs': ['{{name}} <{{cidr}}> on {{cluster}}\n{{#each partitions}}[{{this}}]{{/each}} dns={{join dns ","}}\n{{#if mtu}}mtu {{mtu}}{{/if}}{{#each nodes}}{{address}} {{name}}\n{{/each}}', 0o640],
        'usr/local/bin/site-check': ['#!/bin/sh\n', 0o755],
        'etc/motd': 'hello\n',
      },
      { symlinks: { 'etc/systemd/system/multi-user.target.wants/site.service': '/etc/systemd/system/site.service' } },
    );
    const files = filesOf(renderSiteOverlay(c, c1, undefined));
    expect(files.map((f) => [f.path, f.type, f.mode.toString(8), f.uid, f.gid])).toEqual([
      ['etc/issue.net', 'file', '640', 0, 0],
      ['etc/motd', 'file', '644', 0, 0],
      ['etc/systemd/system/multi-user.target.wants/site.service', 'symlink', '777', 0, 0],
      ['usr/local/bin/site-check', 'file', '755', 0, 0],
    ]);
    expect(text(files[0])).toBe('c1 <10.0.0.2/16> on t\n[normal] dns=10.0.0.1,10.0.0.2\n10.0.0.2 c1\n10.0.0.3 c2\n');
    expect(files[2]!.target).toBe('/etc/systemd/system/site.service');
    expect(text(files[3])).toBe('#!/bin/sh\n');
  });

  it('is deterministic and shares the copied entries between nodes', () => {
    const c = compiled({ 'etc/a.hbs': '{{name}} {{tags.rack}}\n', 'etc/b': 'x' });
    const a = filesOf(renderSiteOverlay(c, c1, undefined));
    expect(filesOf(renderSiteOverlay(c, c1, undefined))).toEqual(a);
    expect(filesOf(renderSiteOverlay(compiled({ 'etc/b': 'x', 'etc/a.hbs': '{{name}} {{tags.rack}}\n' }), c1, undefined))).toEqual(a);
    const b = filesOf(renderSiteOverlay(compiled({ 'etc/b': 'x' }), c2, undefined));
    expect(b[0]).toEqual(a[1]);
  });

  it('an unknown variable names the template line, the variable and the node', () => {
    const c = compiled({ 'etc/a.hbs': 'rack\n  {{tags.rack}}\n' });
    expect(text(filesOf(renderSiteOverlay(c, c1, undefined))[0])).toBe('rack\n  r1\n');
    const [p, ...rest] = problemsOf(renderSiteOverlay(c, c2, undefined));
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ code: 'overlay/template-error', at: { file: 'clusters/t/overlays/site/etc/a.hbs', line: 2, column: 5 } });
    expect(p!.message).toContain('overlays/site/etc/a.hbs:2');
    expect(p!.message).toContain('"tags.rack"');
    expect(p!.message).toContain('node c2');
    expect(p!.hint).toContain('{{#if tags.rack}}');
  });

  it('suggests the field a misspelt variable meant', () => {
    const p = problemsOf(renderSiteOverlay(compiled({ 'etc/a.hbs': '{{adress}}' }), c1, undefined))[0]!;
    expect(p).toMatchObject({ code: 'overlay/template-error', at: { line: 1, column: 3 } });
    expect(p.hint).toBe('did you mean address?');
    const q = problemsOf(renderSiteOverlay(compiled({ 'etc/a.hbs': '\n{{slurm.cpu}}' }), c1, undefined))[0]!;
    expect(q.message).toContain('"slurm.cpu"');
    expect(q.hint).toBe('did you mean cpus?');
  });

  it('a syntax error is reported once, at compile, with the template line', () => {
    const { o, src } = overlay({ 'etc/a.hbs': 'one\ntwo {{#if name}}\n', 'etc/b.hbs': '{{#if name}}\n{{/each}}' });
    const ps = problemsOf(compileSiteOverlay(o, src));
    expect(ps.map((p) => [p.code, p.at?.file, p.at?.line])).toEqual([
      ['overlay/template-syntax', 'clusters/t/overlays/site/etc/a.hbs', 3],
      ['overlay/template-syntax', 'clusters/t/overlays/site/etc/b.hbs', 1],
    ]);
    expect(ps[0]!.message).toMatch(/^template overlays\/site\/etc\/a\.hbs:3 does not compile: expecting/);
  });

  it('refuses unknown helpers, log and partials when compiling', () => {
    for (const [t, code] of [['{{upper name}}', 'unknown helper upper'], ['{{log name}}', 'unknown helper log'], ['x\n{{> other}}', 'partial']] as const) {
      const { o, src } = overlay({ 'etc/a.hbs': t });
      const [p] = problemsOf(compileSiteOverlay(o, src));
      expect(p).toMatchObject({ code: 'overlay/template-syntax' });
      expect(p!.message).toContain(code);
    }
  });

  it('reports a template that is not UTF-8, or that writes the same path as another file', () => {
    const bad = overlay({});
    const files = new Map([['etc/a.hbs', { bytes: new Uint8Array([0xff, 0xfe, 0x7b]), mode: 0o644 }]]);
    expect(problemsOf(compileSiteOverlay({ ...bad.o, files: ['etc/a.hbs'] }, { files, symlinks: new Map() }))[0]!.message).toContain('not UTF-8');
    const dup = overlay({ 'etc/motd': 'a', 'etc/motd.hbs': 'b' });
    expect(problemsOf(compileSiteOverlay(dup.o, dup.src)).map((p) => p.code)).toEqual(['overlay/duplicate-path']);
    const conflict = overlay({ 'etc/x.hbs': 'a', 'etc/x/y': 'b', 'etc/x/z': 'c' });
    expect(problemsOf(compileSiteOverlay(conflict.o, conflict.src)).map((p) => p.code)).toEqual(['overlay/path-conflict']);
  });

  it('refuses a Warewulf .ww template, which would be copied as it is', () => {
    const { o, src } = overlay({ 'etc/issue.ww': '{{.Id}}' });
    const [p] = problemsOf(compileSiteOverlay(o, src));
    expect(p).toMatchObject({ code: 'overlay/warewulf-template', at: { file: 'clusters/t/overlays/site/etc/issue.ww' } });
    expect(p!.hint).toContain('issue.hbs');
  });

  it('validates relative paths even though the loader cannot produce bad ones', () => {
    for (const p of ['../etc/passwd', '/etc/passwd', 'etc/../../x', 'etc//x', '.hbs', 'etc/.hbs']) {
      const { o, src } = overlay({ [p]: 'x' });
      expect(problemsOf(compileSiteOverlay(o, src)).map((q) => q.code), p).toEqual(['overlay/bad-path']);
    }
  });
});

describe('site overlay owners', () => {
  const table = { 'etc/slurm/site.conf': 'a', 'etc/slurm/plugstack.conf.d/x.conf.hbs': '{{name}}', 'etc/munge/extra': ['b', 0o600] as [string, number], 'etc/motd': 'c' };

  it('resolve through the image accounts: exact path, or a folder for everything under it, most specific first', () => {
    const c = compiled(table, { owners: { 'etc/slurm': 'slurm', 'etc/slurm/plugstack.conf.d/x.conf': 'root:wheel', 'etc/munge/extra': 'munge:munge' } });
    const files = filesOf(renderSiteOverlay(c, c1, accounts));
    expect(files.map((f) => [f.path, f.type, f.mode.toString(8), f.uid, f.gid])).toEqual([
      ['etc/motd', 'file', '644', 0, 0],
      ['etc/munge/extra', 'file', '600', 995, 995],
      ['etc/slurm', 'directory', '755', 202, 202],
      ['etc/slurm/plugstack.conf.d', 'directory', '755', 202, 202],
      ['etc/slurm/plugstack.conf.d/x.conf', 'file', '644', 0, 10],
      ['etc/slurm/site.conf', 'file', '644', 202, 202],
    ]);
    // Folders nobody owns get no entry: compose adds them, or keeps the mode an earlier overlay gave them.
    expect(files.some((f) => f.path === 'etc' || f.path === 'etc/munge')).toBe(false);
  });

  it('an owned folder keeps the mode Linux gives it', () => {
    const files = filesOf(renderSiteOverlay(compiled({ 'root/.ssh/config': 'x', 'tmp/x': 'y' }, { owners: { 'root/.ssh': 'root', tmp: 'root' } }), c1, accounts));
    expect(files.filter((f) => f.type === 'directory').map((f) => [f.path, f.mode.toString(8)])).toEqual([['root/.ssh', '700'], ['tmp', '1777']]);
  });

  it('an owner the image lacks is located at its owners entry', () => {
    const c = compiled(table, { owners: { 'etc/slurm': 'slurm', 'etc/motd': 'nobody:wheel' } });
    const ps = problemsOf(renderSiteOverlay(c, c1, accounts));
    expect(ps).toEqual([expect.objectContaining({ code: 'overlay/unknown-owner', at: expect.objectContaining({ path: ['overlays', 'site', 'owners', 'etc/motd'], line: 31 }) })]);
    expect(ps[0]!.message).toContain('user "nobody"');
    expect(ps[0]!.message).toContain('image i');
  });

  it('unknown accounts (image not built) are pending only when owners are needed', () => {
    expect(problemsOf(renderSiteOverlay(compiled(table, { owners: { 'etc/motd': 'slurm' } }), c1, undefined)).map((p) => p.code)).toEqual(['overlay/accounts-unknown']);
    expect(filesOf(renderSiteOverlay(compiled(table), c1, undefined))).toHaveLength(4);
  });

  it('an owners entry that names nothing in the folder is an error with a suggestion', () => {
    const { o, src } = overlay(table, { owners: { 'etc/slurm/site.conff': 'slurm', 'etc/slurm/plugstack.conf.d/x.conf.hbs': 'slurm' } });
    const ps = problemsOf(compileSiteOverlay({ ...o, owners: { ...o.owners!, '': { user: 'slurm', group: 'slurm', at: AT } } }, src));
    expect(ps.map((p) => [p.code, p.hint])).toEqual([
      ['overlay/owner-unmatched', 'did you mean etc/slurm/site.conf?'],
      ['overlay/owner-unmatched', 'owners name the path on the node: write etc/slurm/plugstack.conf.d/x.conf'],
      ['overlay/bad-path', 'name the files or folders the owner should get, e.g. etc/slurm'],
    ]);
  });
});

describe('scale', () => {
  it('renders a few templates for 10,000 nodes from one compile', () => {
    const g = generateRangedSpec(10_000);
    const big = checkSpec('big.yaml', g.spec, () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } })).model!;
    expect(big.nodes).toHaveLength(10_000);
    const c = compiled({
      'etc/a.hbs': '{{name}} {{address}} {{id}}\n',
      'etc/b.hbs': '{{#each partitions}}{{this}} {{/each}}{{slurm.cpus}}\n',
      'etc/c.hbs': '{{cidr}} {{#if gateway}}{{gateway}}{{/if}} {{netdevs.default.mac}}\n',
      'etc/d': 'plain',
    });
    let rendered = 0;
    let last: readonly OverlayFile[] = [];
    for (const n of big.nodes) {
      last = filesOf(renderSiteOverlay(c, nodeRecord(big, n), undefined));
      rendered += last.length;
    }
    expect(rendered).toBe(40_000);
    expect(text(last[0])).toBe(`n10000 ${big.nodes[9999]!.address} 10000\n`);
    const r: NodeRecord = nodeRecord(big, big.nodes[0]!);
    expect(r.nodes).toBe(nodeRecord(big, big.nodes[9999]!).nodes);
  });
});

describe('the loader keeps input modes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herd-site-overlay-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records mode & 0o7777 of every file it read, and a chmod changes the spec hash', () => {
    mkdirSync(join(dir, 'overlays/site/usr/local/bin'), { recursive: true });
    writeFileSync(
      join(dir, 'cluster.yaml'),
      'apiVersion: herd.dev/v1alpha1\nkind: Cluster\nname: t\nhead: { name: h, address: 10.0.0.1 }\nnetwork: { cidr: 10.0.0.0/24, interface: eth0 }\nimages: { i: { source: "oci:x", requires: [slurmd, munged] } }\noverlays: { site: { kind: runtime } }\n' +
        'nodes: { c1: { image: i, mac: "52:54:00:aa:00:01", address: 10.0.0.2, overlays: [site] } }\nslurm: { partitions: { p: { nodes: c1, default: true, max_time: "1:00:00" } } }\n',
    );
    const script = join(dir, 'overlays/site/usr/local/bin/check');
    writeFileSync(script, '#!/bin/sh\n');
    chmodSync(script, 0o644);
    const before = loadSpecFromDisk(dir, dir);
    expect(before.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(before.inputModes.get(script)).toBe(0o644);
    expect(before.inputModes.has(join(dir, 'cluster.yaml'))).toBe(true);
    chmodSync(script, 0o4755);
    const after = loadSpecFromDisk(dir, dir);
    expect(after.inputModes.get(script)).toBe(0o4755);
    expect(after.specHash).not.toBe(before.specHash);
  });

});

describe('the condo example', () => {
  it('renders its template for every condo node', () => {
    const spec = loadSpecFromDisk('clusters/condo', root);
    const m = spec.model!;
    const o = m.overlays['site-motd']!;
    const files = new Map<string, { bytes: Uint8Array; mode: number }>();
    for (const rel of o.files) {
      const abs = join(spec.specDir, o.source!, rel);
      files.set(rel, { bytes: spec.inputs.get(abs)!, mode: spec.inputModes.get(abs)! });
    }
    const c = compileSiteOverlay(o, { files, symlinks: new Map() });
    if ('problems' in c) throw new Error(JSON.stringify(c.problems));
    const outs = m.nodes.map((n) => filesOf(renderSiteOverlay(c, nodeRecord(m, n), undefined)));
    const issue = (i: number): string => text(outs[i]!.find((f) => f.path === 'etc/issue.net'));
    expect(issue(0)).toMatchInlineSnapshot(`
      "cpu001 (10.10.1.1) · condo rack r1 · image rocky10-cpu
      Slurm partitions: guests, chem
      Shared file systems: /home (10.10.0.1:/home), /opt/apps (10.10.0.1:/srv/apps)
      "
    `);
    expect(issue(m.nodes.length - 1)).toMatchInlineSnapshot(`
      "gpu24 (10.10.4.24) · condo rack r3 · image rocky10-gpu
      Slurm partitions: guests, physics, gpu
      GPUs: 4 x a100
      Shared file systems: /home (10.10.0.1:/home), /opt/apps (10.10.0.1:/srv/apps)
      "
    `);
  });
});
