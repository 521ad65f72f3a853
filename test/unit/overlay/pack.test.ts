// Composing and packing one node's overlay stage: order, parents, later-wins, placement, mtimes that follow content,
// and archives GNU cpio, bsdtar and gzip read back exactly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { composeStage, mtimeOf, stageKey, type OverlayPart } from '../../../src/overlay/compose.ts';
import { cpioChunks, gzipReusing, measureStage, stageContents } from '../../../src/overlay/pack.ts';
import type { OverlayFile } from '../../../src/overlay/types.ts';
import { createHash } from 'node:crypto';

const work = mkdtempSync(join(tmpdir(), 'herd-overlay-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const file = (path: string, content: string | Uint8Array, mode = 0o644, extra: Partial<OverlayFile> = {}): OverlayFile => ({ path, type: 'file', mode, uid: 0, gid: 0, content, ...extra });
const part = (name: string, files: OverlayFile[], builtin = true): OverlayPart => ({ name, builtin, files });

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

function keyfile(address: string): OverlayFile {
  return file('etc/NetworkManager/system-connections/herd-provision.nmconnection', `[ipv4]\naddress1=${address}/24\n`, 0o600);
}

describe('composeStage', () => {
  it('adds parents before children, keeps modes and owners, and names the overlay of every entry', () => {
    const r = composeStage('c1', 'system', [part('hostname', [file('etc/hostname', 'c1\n')]), part('NetworkManager', [keyfile('10.0.0.2')])]);
    expect(r.problems).toEqual([]);
    expect(r.entries.map((e) => e.path)).toEqual(['etc', 'etc/NetworkManager', 'etc/NetworkManager/system-connections', 'etc/NetworkManager/system-connections/herd-provision.nmconnection', 'etc/hostname']);
    const kf = r.entries.find((e) => e.path.endsWith('.nmconnection'))!;
    expect(kf.mode).toBe(0o600);
    expect(kf.origin).toBe('NetworkManager');
    expect(r.entries[0]).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0, origin: '' });
  });

  it('lets a later site overlay replace an earlier file, and names the later one', () => {
    const r = composeStage('c1', 'system', [part('hostname', [file('etc/hostname', 'c1\n')]), part('site', [file('etc/hostname', 'custom\n')], false)]);
    const h = r.entries.find((e) => e.path === 'etc/hostname')!;
    expect(Buffer.from(h.content!).toString()).toBe('custom\n');
    expect(h.origin).toBe('site');
  });

  it('treats two built-ins writing one path as a bug in herd', () => {
    expect(() => composeStage('c1', 'system', [part('a', [file('etc/x', '1')]), part('b', [file('etc/x', '2')])])).toThrow(/internal: herd's overlays a and b both write etc\/x/);
  });

  it('refuses early-boot files in a runtime stage, naming overlay, node and file', () => {
    const r = composeStage('c7', 'runtime', [part('site', [file('etc/tmpfiles.d/slurm.conf', 'd /run/slurm 0755 slurm slurm -\n'), file('etc/motd', 'hi\n')], false)], true);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.code).toBe('overlay/early-boot-in-runtime');
    expect(r.problems[0]!.message).toContain('runtime overlay site gives node c7 /etc/tmpfiles.d/slurm.conf (a tmpfiles.d rule)');
    expect(r.problems[0]!.message).toContain('secure: true');
    expect(r.entries.map((e) => e.path)).toEqual(['etc', 'etc/motd']);
  });

  it('refuses paths that leave the root or are not normalised', () => {
    for (const bad of ['../etc/passwd', '/etc/passwd', 'etc/../x', 'etc//x', 'etc/./x', '']) {
      const r = composeStage('c1', 'system', [part('site', [file(bad, 'x')], false)]);
      expect(r.problems.map((p) => p.code), bad).toEqual(['overlay/bad-path']);
      expect(r.entries).toEqual([]);
    }
  });
});

describe('mtimes follow content (wwclient rewrites only on size, mtime or mode change)', () => {
  it('changes the mtime when a same-size content changes, and keeps it when content stays', () => {
    const a = composeStage('c2', 'system', [part('NetworkManager', [keyfile('10.0.0.3')])]).entries.at(-1)!;
    const b = composeStage('c2', 'system', [part('NetworkManager', [keyfile('10.0.0.4')])]).entries.at(-1)!;
    const a2 = composeStage('c2', 'system', [part('NetworkManager', [keyfile('10.0.0.3')])]).entries.at(-1)!;
    expect(a.content!.length).toBe(b.content!.length);
    expect(a.mtime).not.toBe(b.mtime);
    expect(a2.mtime).toBe(a.mtime);
    expect(a.mtime).toBe(mtimeOf(createHash('sha256').update(a.content!).digest('hex')));
  });

  it('the mtimes reach the archive: GNU cpio lists different times for the two versions', async () => {
    const times: string[] = [];
    for (const addr of ['10.0.0.3', '10.0.0.4']) {
      const entries = composeStage('c2', 'system', [part('NetworkManager', [keyfile(addr)])]).entries;
      const img = join(work, `mt-${addr}.img`);
      writeFileSync(img, await collect(cpioChunks(entries)));
      const listing = execFileSync('cpio', ['-itv', '--quiet', '-F', img], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
      times.push(listing.split('\n').find((l) => l.endsWith('.nmconnection'))!);
    }
    expect(times[0]).not.toBe(times[1]);
  });
});

describe('packing', () => {
  const big = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24); // a shared "binary", passed through unchanged
  const entriesFor = (node: string) =>
    composeStage(node, 'system', [
      part('wwclient', [file('warewulf/wwclient', big, 0o755), { path: 'etc/systemd/system/multi-user.target.wants/wwclient.service', type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: '/etc/systemd/system/wwclient.service' }]),
      part('hostname', [file('etc/hostname', `${node}\n`)]),
      part('herd-boot', [file('etc/munge/munge.key', new Uint8Array(1024).fill(7), 0o400, { uid: 995, gid: 995, hidden: 'secret' })]),
    ]).entries;

  it('the .img.gz is the gzip of the .img, and gzip, GNU cpio and bsdtar read it back identically', async () => {
    const entries = entriesFor('c1');
    const img = await collect(cpioChunks(entries));
    const gz = await collect(gzipReusing(cpioChunks(entries)));
    expect(gunzipSync(gz).equals(img)).toBe(true);
    writeFileSync(join(work, 'c1.img'), img);
    writeFileSync(join(work, 'c1.img.gz'), gz);
    execFileSync('gzip', ['-t', join(work, 'c1.img.gz')]);
    const gnu = execFileSync('sh', ['-c', `gzip -dc ${join(work, 'c1.img.gz')} | cpio -itv --quiet`], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    const names = gnu.trim().split('\n').map((l) => l.split(/\s+/).slice(8).join(' '));
    const bsd = execFileSync('bsdtar', ['-tf', join(work, 'c1.img.gz')], { encoding: 'utf8' }).trim().split('\n');
    expect(bsd).toEqual(entries.map((e) => e.path));
    expect(names.map((n) => n.replace(/ -> .*$/, ''))).toEqual(bsd);
    // Modes and owners as composed: the munge key 0400 owned by 995.
    expect(gnu).toMatch(/-r-------- +1 995 +995 +1024 .* etc\/munge\/munge\.key/);
    expect(gnu).toMatch(/lrwxrwxrwx .* etc\/systemd\/system\/multi-user\.target\.wants\/wwclient\.service -> \/etc\/systemd\/system\/wwclient\.service/);
  });

  it('is byte-reproducible, and reuses the shared buffer\'s compressed segment for every node', async () => {
    const a = await measureStage(entriesFor('c1'));
    const b = await measureStage(entriesFor('c1'));
    expect(b).toEqual(a);
    const other = await collect(gzipReusing(cpioChunks(entriesFor('c2'))));
    expect(gunzipSync(other).equals(await collect(cpioChunks(entriesFor('c2'))))).toBe(true);
    expect(a.gz.size).toBeLessThan(a.img.size);
  });

  it('keys a stage by everything in it: content, mode and owner each change the key', () => {
    const base = entriesFor('c1');
    const k = stageKey('v', base);
    expect(stageKey('v', entriesFor('c1'))).toBe(k);
    expect(stageKey('v', entriesFor('c2'))).not.toBe(k);
    expect(stageKey('v', base.map((e) => (e.path === 'etc/hostname' ? { ...e, mode: 0o600 } : e)))).not.toBe(k);
    expect(stageKey('v', base.map((e) => (e.path === 'etc/hostname' ? { ...e, uid: 1 } : e)))).not.toBe(k);
  });

  it('the content index carries origins and hides secrets', () => {
    const c = stageContents(entriesFor('c1'));
    expect(c.find((e) => e.path === 'etc/munge/munge.key')).toMatchObject({ hidden: 'secret', origin: 'herd-boot', mode: 0o400, uid: 995 });
    expect(c.find((e) => e.path === 'etc/hostname')).toMatchObject({ origin: 'hostname', size: 3 });
  });
});
