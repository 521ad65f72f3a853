// Overlay updates read per node as text diffs of the files inside, hidden files as hashes only, identical changes as one hostlist entry:
// real cpio archives applied into a temp root, then the next version planned against it.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { artifactSet, textArtifact, type Artifact, type ArtifactSet } from '../../../src/artifacts/artifact.ts';
import { planOutputSchema, type PlanMeta } from '../../../src/plan/plan-json.ts';
import { renderPlanJson } from '../../../src/plan/render-json.ts';
import { renderPlanMarkdown } from '../../../src/plan/render-markdown.ts';
import { renderPlanText } from '../../../src/plan/render-text.ts';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { addArchiveChanges, recognizeRebuilt } from '../../../src/state/archive-changes.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { CONTENTS_REL } from '../../../src/state/paths.ts';
import { applyTo, planOf } from '../state/target-helpers.ts';
import { overlayPair, type OverlayFileSpec, type OverlayPair } from './overlay-fixtures.ts';

const meta: PlanMeta = { herdVersion: '0.0.0-test', cluster: 'synth', root: 'root', specHash: 'a'.repeat(64), manifestHash: null };
const MUNGE_A = 'MUNGE-KEY-BYTES-A-5f1d0c7e';
const MUNGE_B = 'MUNGE-KEY-BYTES-B-9a3e44b2';
const HOSTKEY_A = '-----BEGIN OPENSSH PRIVATE KEY----- host-key-A';
const HOSTKEY_B = '-----BEGIN OPENSSH PRIVATE KEY----- host-key-B';
const PUBKEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA root@head-A';
const PUBKEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB root@head-B';

type Version = 'A' | 'B';

/** c1 and c2's system overlay: B renumbers c2 (10.0.0.3 → .4), rotates the munge and host keys, changes a binary and a mode. */
function systemFiles(node: string, v: Version): OverlayFileSpec[] {
  const address = node === 'c1' ? '10.0.0.2' : v === 'A' ? '10.0.0.3' : '10.0.0.4';
  return [
    { path: 'etc/hostname', content: `${node}\n`, origin: 'hostname' },
    {
      path: 'etc/NetworkManager/system-connections/enp1s0.nmconnection',
      content: `[connection]\nid=enp1s0\ntype=ethernet\n[ipv4]\nmethod=manual\naddress1=${address}/24\ngateway=10.0.0.1\ndns=10.0.0.1\n`,
      mode: 0o600,
      origin: 'NetworkManager',
    },
    { path: 'etc/munge/munge.key', content: v === 'A' ? MUNGE_A : MUNGE_B, mode: 0o400, uid: 990, hidden: 'secret', origin: 'munge' },
    { path: 'etc/ssh/ssh_host_ed25519_key', content: v === 'A' ? HOSTKEY_A : HOSTKEY_B, mode: 0o600, hidden: 'secret', origin: 'ssh.host_keys' },
    { path: 'root/.ssh/authorized_keys', content: v === 'A' ? PUBKEY_A : PUBKEY_B, mode: 0o600, hidden: 'head-file', origin: 'ssh.authorized_keys' },
    { path: 'usr/local/bin/probe', content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, v === 'A' ? 1 : 2, 0, 0]), mode: 0o755, origin: 'site' },
    { path: 'etc/motd', content: 'welcome\n', mode: v === 'A' ? 0o644 : 0o640, origin: 'site' },
    ...(v === 'A' ? [{ path: 'etc/old.conf', content: 'old=1\n', origin: 'site' }] : [{ path: 'etc/new.conf', content: 'new=1\n', origin: 'site' }]),
  ];
}

const runtimeFiles = (nodes: readonly string[], v: Version): OverlayFileSpec[] => [
  { path: 'etc/hosts', content: `10.0.0.1 head\n${nodes.map((n, i) => `10.0.1.${i + 1} ${n}\n`).join('')}${v === 'B' ? '10.0.0.250 login\n' : ''}`, origin: 'hosts' },
];

async function clusterSet(nodes: readonly string[], v: Version, options: { system?: boolean; extra?: Artifact[] } = {}): Promise<{ set: ArtifactSet; pairs: OverlayPair[] }> {
  const pairs: OverlayPair[] = [];
  for (const n of nodes) {
    if (options.system !== false) pairs.push(await overlayPair(n, 'system', systemFiles(n, v)));
    pairs.push(await overlayPair(n, 'runtime', runtimeFiles(nodes, v)));
  }
  const arts: Artifact[] = [textArtifact({ path: 'etc/slurm/slurm.conf', text: 'ClusterName=synth\n', impact: { class: 'slurm-reconfigure' } }), ...(options.extra ?? [])];
  for (const p of pairs) arts.push(p.img, p.gz);
  return { set: artifactSet(arts), pairs };
}

function allOutputs(plan: Awaited<ReturnType<typeof planOf>>['plan']): string[] {
  return [renderPlanText(plan, meta, { color: false }), renderPlanText(plan, meta, { color: true }), renderPlanMarkdown(plan, meta), renderPlanJson(plan, meta, { exitCode: 2, diagnostics: [] })];
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'herd-overlay-diff-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('overlay updates as text diffs', () => {
  it("shows c2's keyfile change as a diff, hidden files by hash only, binaries by hash, modes stated", async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    const text = renderPlanText(plan, meta, { color: false });
    const c2 = text.slice(text.indexOf('~ __SYSTEM__ of c2'), text.indexOf('~ __RUNTIME__'));
    expect(c2).toContain('srv/warewulf/provision/overlays/c2/__SYSTEM__.img and its .img.gz');
    expect(c2).toMatch(/~ etc\/NetworkManager\/system-connections\/enp1s0\.nmconnection {2}\+1 -1 lines {2}\(overlay NetworkManager\)\n\s+--- a\/etc\/NetworkManager/);
    expect(c2).toMatch(/\n\s+-address1=10\.0\.0\.3\/24\n\s+\+address1=10\.0\.0\.4\/24\n/);
    expect(c2).toMatch(/~ etc\/munge\/munge\.key {2}\(secret sha256:[0-9a-f]{12}…\) → \(secret sha256:[0-9a-f]{12}…\) {2}\(overlay munge\)/);
    expect(c2).toMatch(/~ root\/\.ssh\/authorized_keys {2}\(head file sha256:[0-9a-f]{12}…\) → \(head file sha256:[0-9a-f]{12}…\)/);
    expect(c2).toMatch(/~ usr\/local\/bin\/probe {2}sha256:[0-9a-f]{12}… → sha256:[0-9a-f]{12}…, binary/);
    expect(c2).toContain('~ etc/motd  mode 0644 → 0640');
    expect(c2).toMatch(/\+ etc\/new\.conf {2}file 0644 0:0 6 B, \+1 -0 line/);
    expect(c2).toContain('+new=1');
    expect(c2).toContain('- etc/old.conf  file 0644 0:0 6 B, removed');
    // c1's keyfile does not change: its system entry lists no keyfile, and c1 and c2 are not grouped (their changes differ).
    const c1 = text.slice(text.indexOf('~ __SYSTEM__ of c1'), text.indexOf('~ __SYSTEM__ of c2'));
    expect(c1).not.toContain('nmconnection');
    // The .img.gz twins are folded into their .img: never listed on their own.
    expect(text).not.toMatch(/__SYSTEM__\.img\.gz {2}update/);
    expect(text).not.toContain('(.img.gz) of');
  });

  it('never shows a hidden file’s bytes, in any format', async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    for (const out of allOutputs(plan)) {
      for (const secret of [MUNGE_A, MUNGE_B, 'MUNGE-KEY-BYTES', HOSTKEY_A, HOSTKEY_B, 'host-key-', PUBKEY_A, PUBKEY_B, 'AAAAC3Nza']) expect(out).not.toContain(secret);
    }
    const doc = planOutputSchema.parse(JSON.parse(allOutputs(plan)[3]!)).result!;
    const munge = doc.overlayGroups.flatMap((g) => g.files ?? []).filter((f) => f.path === 'etc/munge/munge.key');
    expect(munge.length).toBeGreaterThan(0);
    for (const f of munge) {
      expect(f).toMatchObject({ hidden: 'secret', noDiff: 'hidden', before: { hidden: 'secret' }, after: { hidden: 'secret' } });
      expect(f.diff).toBeUndefined();
    }
  });

  it('lists every archive in JSON, with its group, and the .img.gz pointing at its .img', async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    const doc = planOutputSchema.parse(JSON.parse(renderPlanJson(plan, meta, { exitCode: 2, diagnostics: [] }))).result!;
    const overlays = doc.changes.filter((c) => c.kind === 'overlay');
    expect(overlays).toHaveLength(8);
    const gz = overlays.find((c) => c.path === 'srv/warewulf/provision/overlays/c2/__SYSTEM__.img.gz')!;
    expect(gz.overlay).toEqual({ node: 'c2', stage: 'system', overlays: ['wwinit', 'site'], gzipOf: 'srv/warewulf/provision/overlays/c2/__SYSTEM__.img' });
    const group = doc.overlayGroups[gz.overlayGroup!]!;
    expect(group).toMatchObject({ stage: 'system', nodes: 'c2', paths: ['srv/warewulf/provision/overlays/c2/__SYSTEM__.img'], twinPaths: [gz.path], filesSource: 'archive' });
    expect(group.files!.find((f) => f.path.endsWith('enp1s0.nmconnection'))!.diff).toContain('+address1=10.0.0.4/24');
    expect(doc.overlayGroups.map((g) => `${g.stage} ${g.nodes}`)).toEqual(['system c1', 'system c2', 'runtime c[1-2]']);
    for (const c of overlays) expect(c.overlayGroup).toBeTypeOf('number');
  });

  it('groups 50 nodes with the same change into one hostlist entry, reading one node’s archives', async () => {
    const nodes = Array.from({ length: 50 }, (_, i) => `c${i + 1}`);
    await applyTo(root, (await clusterSet(nodes, 'A', { system: false })).set);
    const b = await clusterSet(nodes, 'B', { system: false });
    const { plan } = await planOf(root, b.set);
    expect(b.pairs.reduce((n, p) => n + p.produced(), 0)).toBe(1);
    const text = renderPlanText(plan, meta, { color: false });
    expect(text).toContain('~ __RUNTIME__ of c[1-50]  update (content)  → runtime-refresh');
    expect(text).toContain('srv/warewulf/provision/overlays/c[1-50]/__RUNTIME__.img and its .img.gz (50 nodes)');
    expect(text).toContain('~ etc/hosts  +1 -0 line  (overlay hosts)');
    expect(text.match(/\+10\.0\.0\.250 login/g)).toHaveLength(1);
    expect(text.match(/__RUNTIME__ of/g)).toHaveLength(1);
    const md = renderPlanMarkdown(plan, meta);
    expect(md.match(/__RUNTIME__ of <code>c\[1-50\]<\/code>/g)).toHaveLength(1);
    const doc = planOutputSchema.parse(JSON.parse(renderPlanJson(plan, meta, { exitCode: 2, diagnostics: [] }))).result!;
    expect(doc.overlayGroups).toHaveLength(1);
    expect(doc.overlayGroups[0]).toMatchObject({ nodes: 'c[1-50]', nodeCount: 50, stage: 'runtime' });
    expect(doc.overlayGroups[0]!.paths).toHaveLength(50);
    expect(doc.overlayGroups[0]!.twinPaths).toHaveLength(50);
    expect(doc.changes.filter((c) => c.overlayGroup === 0)).toHaveLength(100);
  });

  it('reads the previous archive itself when its content index is not stored', async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const contents = join(root, CONTENTS_REL);
    for (const f of readdirSync(contents)) rmSync(join(contents, f));
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    expect(plan.actions.find((a) => a.path.endsWith('c2/__SYSTEM__.img'))?.contentDiffUnavailable).toBe(true);
    const text = renderPlanText(plan, meta, { color: false });
    expect(text).toMatch(/-address1=10\.0\.0\.3\/24\n\s+\+address1=10\.0\.0\.4\/24/);
    expect(text).toMatch(/~ etc\/munge\/munge\.key {2}\(secret sha256:[0-9a-f]{12}…\) → \(secret sha256:[0-9a-f]{12}…\)/);
    expect(text).toContain('~ __RUNTIME__ of c[1-2]');
    for (const out of allOutputs(plan)) for (const secret of [MUNGE_A, MUNGE_B, HOSTKEY_A, HOSTKEY_B, PUBKEY_A]) expect(out).not.toContain(secret);
  });

  it('falls back to hashes when the previous archive is unreadable', async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const contents = join(root, CONTENTS_REL);
    for (const f of readdirSync(contents)) rmSync(join(contents, f));
    writeFileSync(join(root, 'srv/warewulf/provision/overlays/c2/__SYSTEM__.img'), 'not a cpio archive\n');
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    const text = renderPlanText(plan, meta, { color: false });
    const c2 = text.slice(text.indexOf('~ __SYSTEM__ of c2'), text.indexOf('~ __RUNTIME__'));
    expect(c2).toContain('contents: previous index not stored and the archive could not be read; only hashes can be compared');
    expect(c2).toContain('! drift:');
    expect(c2).not.toContain('address1');
  });

  it('keeps hash-level changes with a stored index when the previous archive cannot be read, and past the reading cap', async () => {
    await applyTo(root, (await clusterSet(['c1', 'c2'], 'A')).set);
    const { plan } = await planOf(root, (await clusterSet(['c1', 'c2'], 'B')).set);
    expect(plan.actions.filter((a) => a.archiveChanges?.source === 'archive').length).toBeGreaterThan(0);
    const stripped = { ...plan, actions: plan.actions.map(({ archiveChanges: _drop, ...a }) => a) };
    const b = (await clusterSet(['c1', 'c2'], 'B')).set;
    const dir = ConfinedDir.open(root, { what: 'target root' });
    try {
      for (const capped of [await addArchiveChanges(dir, b, stripped, { maxReads: 0 }), await addArchiveChanges(undefined, b, stripped)]) {
        const text = renderPlanText(capped, meta, { color: false });
        expect(text).toMatch(/~ etc\/NetworkManager\/system-connections\/enp1s0\.nmconnection {2}sha256:[0-9a-f]{12}… → sha256:[0-9a-f]{12}…, text not read/);
        expect(text).toMatch(/~ etc\/munge\/munge\.key {2}\(secret sha256:[0-9a-f]{12}…\) → \(secret sha256:[0-9a-f]{12}…\)/);
        expect(text).not.toContain('address1');
      }
    } finally {
      dir.close();
    }
  });

  it("tells an archive rebuilt with the same entries (Warewulf's rebuild) from an edit, with or without archive-changes' reading", async () => {
    const a = (await clusterSet(['c1', 'c2'], 'A')).set;
    await applyTo(root, a);
    const put = async (node: string, mtime: number, v: Version): Promise<void> => {
      const p = await overlayPair(node, 'system', systemFiles(node, v), 'srv/warewulf', ['wwinit', 'site'], mtime);
      for (const art of [p.img, p.gz]) {
        const parts: Uint8Array[] = [];
        for await (const c of art.produce!()) parts.push(c);
        writeFileSync(join(root, art.path), Buffer.concat(parts));
      }
    };
    await put('c1', 1_700_000_000, 'A'); // the same entries, other bytes: rebuilt
    await put('c2', 1_700_000_000, 'B'); // other entries: an edit
    const kinds = (p: Awaited<ReturnType<typeof planOf>>['plan']) =>
      Object.fromEntries(p.actions.filter((x) => x.drift).map((x) => [x.path.replace('srv/warewulf/provision/overlays/', ''), `${x.drift!.kind}${x.drift!.blocking ? '!' : ''} ${x.impact.class}`]));
    const want = { 'c1/__SYSTEM__.img': 'rebuilt none', 'c1/__SYSTEM__.img.gz': 'rebuilt none', 'c2/__SYSTEM__.img': 'content! reboot', 'c2/__SYSTEM__.img.gz': 'content! reboot' };
    // Through openTarget: the entries compared by addArchiveChanges are used, not read again.
    const { plan, stored, live } = await planOf(root, a);
    expect(kinds(plan)).toEqual(want);
    // Without archive-changes (past its reading cap): recognizeRebuilt reads the archives itself, with the same verdicts.
    const dir = ConfinedDir.open(root, { what: 'target root' });
    try {
      expect(kinds(await recognizeRebuilt(dir, a, planChanges(a, stored.manifest, live)))).toEqual(want);
      expect(kinds(await recognizeRebuilt(dir, a, planChanges(a, stored.manifest, live), 0))).toEqual({ ...want, 'c1/__SYSTEM__.img': 'content! reboot', 'c1/__SYSTEM__.img.gz': 'content! reboot' });
    } finally {
      dir.close();
    }
  });
});
