// Plan and apply on a real directory: the full loop, deletes, drift refusal, a failing artifact that changes nothing, modes, owners and the stat fast path.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { summarizePlan } from '../../../src/plan/plan-types.ts';
import { writePending } from '../../../src/state/manifest-io.ts';
import { manifestFileOf, pendingFileOf } from '../../../src/state/paths.ts';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { versionSet } from './synthetic-artifacts.ts';
import { applyTo, herdFailureOf, planOf, snapshot } from './target-helpers.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'herd-apply-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** sha256 of each path with coreutils' sha256sum: an oracle independent of herd's hashing. */
function sha256sum(paths: string[]): Record<string, string> {
  const out = execFileSync('sha256sum', paths.map((p) => join(root, p)), { encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(66).slice(root.length + 1), l.slice(0, 64)]));
}

describe('apply', () => {
  it('writes every artifact with its hash and mode, records them, and then plans no changes', async () => {
    const a = versionSet('A');
    const r = await applyTo(root, a);
    expect(r).toMatchObject({ applied: true, created: a.artifacts.length });
    const sums = sha256sum(a.artifacts.map((x) => x.path));
    for (const x of a.artifacts) {
      expect(sums[x.path], x.path).toBe(x.sha256);
      expect(statSync(join(root, x.path)).mode & 0o7777).toBe(x.mode);
    }
    const manifest = JSON.parse(readFileSync(manifestFileOf(root), 'utf8'));
    expect(manifest.entries.map((e: { path: string; sha256: string }) => [e.path, e.sha256])).toEqual(a.artifacts.map((x) => [x.path, x.sha256]));
    expect(existsSync(pendingFileOf(root))).toBe(false);
    const again = await planOf(root, a);
    expect(summarizePlan(again.plan)).toMatchObject({ changesPresent: false, stateOnly: 0 });
  });

  it('moves A→B exactly: deletes only what herd wrote, keeps foreign files, and diffs overlay contents from stored indexes', async () => {
    const a = versionSet('A');
    const b = versionSet('B');
    await applyTo(root, a);
    writeFileSync(join(root, 'etc/foreign.conf'), 'not herd\n');
    const plan = (await planOf(root, b)).plan;
    expect(plan.actions.find((x) => x.path.includes('c001'))?.contentDiff?.changed.length).toBe(3);
    const r = await applyTo(root, b);
    expect(r).toMatchObject({ created: 2, updated: 7, deleted: 2 });
    const sums = sha256sum(b.artifacts.map((x) => x.path));
    for (const x of b.artifacts) expect(sums[x.path]).toBe(x.sha256);
    expect(existsSync(join(root, 'etc/only-a.conf'))).toBe(false);
    expect(existsSync(join(root, 'srv/warewulf/provision/overlays/c004/__SYSTEM__.img'))).toBe(false);
    expect(readFileSync(join(root, 'etc/foreign.conf'), 'utf8')).toBe('not herd\n');
    expect(summarizePlan((await planOf(root, b)).plan).changesPresent).toBe(false);
    expect(Object.keys(snapshot(root)).filter((p) => p.includes('.herd-tmp'))).toEqual([]);
  });

  it('changes a mode in place (same inode) when only the mode differs', async () => {
    await applyTo(root, versionSet('A'));
    const ino = statSync(join(root, 'etc/mode.conf')).ino;
    await applyTo(root, versionSet('B'));
    const st = statSync(join(root, 'etc/mode.conf'));
    expect(st.mode & 0o7777).toBe(0o600);
    expect(st.ino).toBe(ino);
  });

  it('refuses drift before writing anything, and overwrites it only when told', async () => {
    const a = versionSet('A');
    await applyTo(root, a);
    writeFileSync(join(root, 'etc/hosts'), 'hand edit\n');
    const before = snapshot(root);
    const f = await herdFailureOf(applyTo(root, versionSet('B')));
    expect(f.rule).toBe('state/drift');
    expect(f.message).toContain('etc/hosts');
    expect(snapshot(root)).toEqual(before);
    await applyTo(root, a, { overwriteDrift: true });
    expect(readFileSync(join(root, 'etc/hosts'), 'utf8')).toBe('10.0.0.1 head\n10.0.0.2 c001\n');
  });

  it('leaves the target and its state byte-identical when an artifact does not hash as promised', async () => {
    await applyTo(root, versionSet('A'));
    const before = snapshot(root);
    const f = await herdFailureOf(applyTo(root, versionSet('B', { corruptImage: true })));
    expect(f.rule).toBe('state/apply-failed');
    expect(f.message).toMatch(/rocky\.img.*sha256.*nothing on the target was changed/s);
    expect(snapshot(root)).toEqual(before);
  });

  it('records the desired owner, and chowns only as root when the user exists here', async () => {
    await applyTo(root, versionSet('A'));
    const entry = JSON.parse(readFileSync(manifestFileOf(root), 'utf8')).entries.find((e: { path: string }) => e.path === 'etc/munge/munge.key');
    expect(entry).toMatchObject({ owner: 'munge', group: 'munge', mode: 0o600 });
    const st = statSync(join(root, 'etc/munge/munge.key'));
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'munge'], { encoding: 'utf8' }));
      expect([entry.uid, st.uid]).toEqual([uid, uid]);
    } else {
      expect([entry.uid, st.uid]).toEqual([null, process.getuid?.()]);
    }
    // nodes.conf wants group warewulf, which this machine lacks: recorded by name, not applied.
    expect(JSON.parse(readFileSync(manifestFileOf(root), 'utf8')).entries.find((e: { path: string }) => e.path === 'etc/warewulf/nodes.conf')).toMatchObject({ group: 'warewulf', gid: null });
  });
  it('finishes the cleanup of an apply that died after its manifest: journal and temp files go, nothing else changes', async () => {
    const a = versionSet('A');
    await applyTo(root, a);
    const dir = ConfinedDir.open(root, { what: 'target root' });
    await writePending(dir, { formatVersion: 1, kind: 'herd-pending', pid: 999999, host: 'h', command: 'herd apply', since: 'then', paths: { 'etc/hosts': [a.artifacts[0]!.sha256] } });
    dir.close();
    writeFileSync(join(root, 'etc/.hosts.herd-tmp'), 'half');
    const plan = (await planOf(root, a)).plan;
    expect(plan.interrupted).toMatchObject({ pid: 999999, leftoverTempFiles: ['etc/.hosts.herd-tmp'] });
    expect(summarizePlan(plan).changesPresent).toBe(false);
    const manifest = readFileSync(manifestFileOf(root));
    expect(await applyTo(root, a)).toMatchObject({ applied: false });
    expect(existsSync(pendingFileOf(root))).toBe(false);
    expect(existsSync(join(root, 'etc/.hosts.herd-tmp'))).toBe(false);
    expect(readFileSync(manifestFileOf(root))).toEqual(manifest);
  });
});

describe('live scan', () => {
  it('trusts the recorded stat for untouched files and re-hashes edited ones, even with size and mtime restored', async () => {
    await applyTo(root, versionSet('A'));
    await new Promise((r) => setTimeout(r, 30));
    const b = versionSet('B');
    await applyTo(root, b);
    const stats = { hashed: 0, statted: 0 };
    const quiet = await planOf(root, b, stats);
    expect(summarizePlan(quiet.plan).changesPresent).toBe(false);
    expect(stats.statted).toBe(b.artifacts.length);
    // hosts and c003's overlay were written by the first apply, well before the second manifest: trusted without reading.
    expect(quiet.live.files.get('etc/hosts')?.hashed).toBe(false);
    expect(quiet.live.files.get('srv/warewulf/provision/overlays/c003/__SYSTEM__.img')?.hashed).toBe(false);
    expect(stats.hashed).toBeLessThanOrEqual(b.artifacts.length - 2);

    const hosts = join(root, 'etc/hosts');
    const st = statSync(hosts);
    const text = readFileSync(hosts, 'utf8');
    writeFileSync(hosts, text.replace('head', 'HEAD'));
    utimesSync(hosts, st.atime, st.mtime);
    expect(statSync(hosts).size).toBe(st.size);
    const after = await planOf(root, b);
    expect(after.plan.actions.find((x) => x.path === 'etc/hosts')?.drift?.kind).toBe('content');
  });
});

describe('tree artifacts (an image unpacked into its chroot)', () => {
  const T = 1_700_000_000;
  async function treeArtifact(files: Record<string, string>): Promise<import('../../../src/artifacts/artifact.ts').Artifact> {
    const { cpioNewc } = await import('../../../src/artifacts/cpio-newc.ts');
    const { sha256Hex, treeSha256 } = await import('../../../src/artifacts/artifact.ts');
    const parts: Uint8Array[] = [];
    const entries = Object.entries(files).flatMap(([p, body]) => [
      ...(p.includes('/') ? [{ path: p.split('/')[0]!, type: 'directory' as const, mode: 0o755, uid: 0, gid: 0, mtime: T }] : []),
      { path: p, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: T, data: Buffer.from(body) },
    ]);
    for await (const c of cpioNewc(entries.filter((e, i) => entries.findIndex((x) => x.path === e.path) === i)).chunks) parts.push(c);
    const bytes = Buffer.concat(parts);
    const archive = { sha256: sha256Hex(bytes), size: bytes.length };
    return {
      path: 'var/lib/warewulf/chroots/x/rootfs', kind: 'tree', mode: 0o755, owner: 'root', group: 'root', nodes: ['n1'], impact: { class: 'reboot' },
      produce: async function* () { yield bytes; }, sha256: treeSha256(archive, []), size: bytes.length, tree: { archive, extras: [] },
    };
  }
  const set = async (files: Record<string, string> | null) => {
    const { artifactSet } = await import('../../../src/artifacts/artifact.ts');
    const base = versionSet('A').artifacts;
    return artifactSet([...base, ...(files ? [await treeArtifact(files)] : [])]);
  };

  it('creates the folder, trusts it unchanged, replaces it whole, and removes only the folder herd recorded', async () => {
    const chroot = join(root, 'var/lib/warewulf/chroots/x/rootfs');
    await applyTo(root, await set({ 'etc/a': 'one\n', 'boot/vmlinuz': 'k1' }));
    expect(readFileSync(join(chroot, 'etc/a'), 'utf8')).toBe('one\n');
    expect(summarizePlan((await planOf(root, await set({ 'etc/a': 'one\n', 'boot/vmlinuz': 'k1' }))).plan).changesPresent).toBe(false);
    const r = await applyTo(root, await set({ 'etc/b': 'two\n' }));
    expect(r.updated).toBeGreaterThan(0);
    expect(existsSync(join(chroot, 'etc/a'))).toBe(false);
    expect(readFileSync(join(chroot, 'etc/b'), 'utf8')).toBe('two\n');
    expect(Object.keys(snapshot(root)).filter((p) => p.includes('.herd-tmp'))).toEqual([]);
    await applyTo(root, await set(null));
    expect(existsSync(chroot)).toBe(false);
    expect(existsSync(join(root, 'var/lib/warewulf/chroots/x'))).toBe(true);
  });

  it('trusts a tree herd just renamed in even when that rename shares a clock tick with the manifest (no racy-tick rule for trees)', async () => {
    const files = { 'etc/a': 'one\n' };
    await applyTo(root, await set(files));
    // The manifest written in the same tick as the rename: its mtime no later than the tree's ctime.
    const past = new Date(statSync(join(root, 'var/lib/warewulf/chroots/x/rootfs')).ctimeMs - 5_000);
    utimesSync(manifestFileOf(root), past, past);
    expect(summarizePlan((await planOf(root, await set(files))).plan).changesPresent).toBe(false);
  });

  it('a folder that is not herd\'s recorded tree is drift: never removed or replaced without --overwrite-drift', async () => {
    const chroot = join(root, 'var/lib/warewulf/chroots/x/rootfs');
    execFileSync('mkdir', ['-p', join(chroot, 'etc')]);
    writeFileSync(join(chroot, 'etc/site'), 'the site\'s own\n');
    const f = await herdFailureOf(applyTo(root, await set({ 'etc/a': 'one\n' })));
    expect(f.rule).toBe('state/drift');
    expect(f.message).toContain('chroots/x/rootfs');
    expect(readFileSync(join(chroot, 'etc/site'), 'utf8')).toBe('the site\'s own\n');
    await applyTo(root, await set({ 'etc/a': 'one\n' }), { overwriteDrift: true });
    expect(existsSync(join(chroot, 'etc/site'))).toBe(false);
    expect(readFileSync(join(chroot, 'etc/a'), 'utf8')).toBe('one\n');
  });
});
