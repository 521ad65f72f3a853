import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyPins, describePins, reownTree } from '../../../src/image/fix/pins.ts';
import { createTree, lookup, walkTree, type FsTree } from '../../../src/image/tree/fs-tree.ts';
import { EL10_GROUP, EL10_GSHADOW, EL10_PASSWD, EL10_SHADOW, MUNGE_PATHS, el10Tree, put, text } from './fix-fixtures.ts';

const owners = (t: FsTree): Map<string, [number, number]> => new Map([...walkTree(t)].map((e) => [e.path, [e.inode.uid, e.inode.gid]]));

/** pwck/grpck in read-only mode on the rewritten files: the shadow suite's own consistency checks (the oracle). */
function shadowSuiteAccepts(t: FsTree): void {
  const dir = mkdtempSync(join(tmpdir(), 'herd-pins-'));
  try {
    for (const f of ['passwd', 'shadow', 'group', 'gshadow']) writeFileSync(join(dir, f), text(t, `etc/${f}`));
    execFileSync('pwck', ['-r', '-q', join(dir, 'passwd'), join(dir, 'shadow')], { stdio: 'pipe' });
    execFileSync('grpck', ['-r', join(dir, 'group'), join(dir, 'gshadow')], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('applyPins', () => {
  it('pins munge 998 -> 995 and re-owns every inode it had: /etc/munge, /var/log/munge, /run/munge, deep paths, hard links, symlinks', async () => {
    const t = el10Tree();
    const before = owners(t);
    const r = await applyPins(t, { users: { munge: 995 }, groups: { munge: 995 } });
    expect(r.problems).toEqual([]);
    // Only the munge lines changed, and only their ID fields.
    expect(text(t, 'etc/passwd')).toBe(EL10_PASSWD.replace('munge:x:998:998:', 'munge:x:995:995:'));
    expect(text(t, 'etc/group')).toBe(EL10_GROUP.replace('munge:x:998:', 'munge:x:995:'));
    expect(text(t, 'etc/shadow')).toBe(EL10_SHADOW);
    expect(text(t, 'etc/gshadow')).toBe(EL10_GSHADOW);
    for (const p of ['etc/munge', 'var/log/munge', 'run/munge', 'var/lib/munge/munge.seed', 'var/lib/munge/a/b/c/d/e/deep.state', 'var/lib/munge/seed.link', 'var/lib/munge/hardlink.seed']) {
      expect([p, lookup(t, p)?.uid, lookup(t, p)?.gid]).toEqual([p, 995, 995]);
    }
    expect(lookup(t, 'var/lib/munge/hardlink.seed')).toBe(lookup(t, 'var/lib/munge/munge.seed'));
    expect(lookup(t, 'var/spool/group-only')).toMatchObject({ uid: 0, gid: 995 });
    expect(lookup(t, 'var/spool/user-only')).toMatchObject({ uid: 995, gid: 0 });
    // Nothing else moved, and nothing is left at 998.
    const after = owners(t);
    for (const [p, [u, g]] of before) {
      const [u2, g2] = after.get(p)!;
      expect([p, u2, g2]).toEqual([p, u === 998 ? 995 : u, g === 998 ? 995 : g]);
    }
    expect([...after.values()].some(([u, g]) => u === 998 || g === 998)).toBe(false);
    // One count per path, hard-linked names included.
    expect(r.report.changes).toEqual([
      { kind: 'user', name: 'munge', from: 998, to: 995, reowned: MUNGE_PATHS.length + 1, examples: expect.any(Array) },
      { kind: 'group', name: 'munge', from: 998, to: 995, reowned: MUNGE_PATHS.length + 1, examples: expect.any(Array) },
    ]);
    expect(r.report.primaryGroupUpdates).toEqual(['munge']);
    expect(r.report.rewritten).toEqual(['etc/group', 'etc/passwd']);
    expect(describePins(r.report)[0]).toMatch(/^pinned user munge 998 → 995; re-owned 15 paths \(\/etc\/munge, /);
    shadowSuiteAccepts(t);
  });

  it('moves the primary GID of every user of a pinned group, and leaves an already pinned account alone', async () => {
    const t = el10Tree();
    put(t, 'etc/passwd', 'file', { content: `${EL10_PASSWD}helper:x:1500:998::/:/sbin/nologin\n` });
    put(t, 'etc/shadow', 'file', { content: `${EL10_SHADOW}helper:!!:19500::::::\n` });
    const r = await applyPins(t, { users: { slurm: 202 }, groups: { munge: 990 } });
    expect(r.problems).toEqual([]);
    expect(text(t, 'etc/passwd')).toContain('munge:x:998:990:');
    expect(text(t, 'etc/passwd')).toContain('helper:x:1500:990:');
    expect(r.report.alreadyPinned).toEqual(['user:slurm']);
    expect(r.report.primaryGroupUpdates).toEqual(['munge', 'helper']);
    expect(lookup(t, 'var/log/munge')).toMatchObject({ uid: 998, gid: 990 });
    shadowSuiteAccepts(t);
  });

  it('swaps two IDs in one pass (a -> b and b -> a do not undo each other)', async () => {
    const t = createTree();
    put(t, 'etc/passwd', 'file', { content: 'root:x:0:0::/:/bin/sh\na:x:1000:1000::/:/bin/sh\nb:x:1001:1001::/:/bin/sh\n' });
    put(t, 'etc/group', 'file', { content: 'root:x:0:\na:x:1000:\nb:x:1001:\n' });
    put(t, 'home/a/file', 'file', { uid: 1000, gid: 1000 });
    put(t, 'home/b/file', 'file', { uid: 1001, gid: 1001 });
    const r = await applyPins(t, { users: { a: 1001, b: 1000 }, groups: { a: 1001, b: 1000 } });
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'home/a/file')).toMatchObject({ uid: 1001, gid: 1001 });
    expect(lookup(t, 'home/b/file')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(text(t, 'etc/passwd')).toBe('root:x:0:0::/:/bin/sh\na:x:1001:1001::/:/bin/sh\nb:x:1000:1000::/:/bin/sh\n');
  });

  it('adds locked shadow/gshadow entries for changed accounts that lack them, so pwck/grpck stay happy', async () => {
    const t = el10Tree();
    put(t, 'etc/shadow', 'file', { mode: 0, content: EL10_SHADOW.replace('munge:!!:19500::::::\n', '') });
    put(t, 'etc/gshadow', 'file', { content: EL10_GSHADOW.replace('munge:!::\n', '') });
    const r = await applyPins(t, { users: { munge: 995 }, groups: { munge: 995 } });
    expect(r.report.addedShadowEntries).toEqual(['shadow:munge', 'gshadow:munge']);
    expect(text(t, 'etc/shadow').endsWith('chrony:!!:19500::::::\nmunge:!*:::::::\n')).toBe(true);
    expect(lookup(t, 'etc/shadow')?.mode).toBe(0o000);
    shadowSuiteAccepts(t);
  });

  it('reports image/pin-collision naming both accounts, and changes nothing for that pin', async () => {
    const t = el10Tree();
    const r = await applyPins(t, { users: { munge: 202 }, groups: {} });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ code: 'image/pin-collision', field: 'pins', key: 'users.munge' });
    expect(r.problems[0]?.message).toMatch(/munge.*202.*slurm/);
    expect(text(t, 'etc/passwd')).toBe(EL10_PASSWD);
    expect(lookup(t, 'var/log/munge')?.uid).toBe(998);
  });

  it('reports image/pin-missing-account when the package that creates the account is not installed', async () => {
    const t = el10Tree();
    const r = await applyPins(t, { users: { munge: 995 }, groups: { nosuch: 1234 } });
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/pin-missing-account', field: 'pins', key: 'groups.nosuch' })]);
    expect(r.problems[0]?.hint).toContain('munge');
    const bare = createTree();
    const r2 = await applyPins(bare, { users: { munge: 995 }, groups: {} });
    expect(r2.problems[0]).toMatchObject({ code: 'image/pin-missing-account', key: 'users.munge' });
    expect(r2.problems[0]?.message).toContain('no /etc/passwd');
  });

  it('reports image/pin-shared-id when another account has the same old ID (whose files would those be?)', async () => {
    const t = el10Tree();
    put(t, 'etc/passwd', 'file', { content: `${EL10_PASSWD}munge2:x:998:998::/:/sbin/nologin\n` });
    const r = await applyPins(t, { users: { munge: 995 }, groups: {} });
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/pin-shared-id', key: 'users.munge' })]);
    expect(lookup(t, 'etc/munge')?.uid).toBe(998);
  });
});

describe('reownTree', () => {
  it('maps the root inode too and counts nothing when nothing maps', () => {
    const t = createTree({ uid: 5, gid: 6 });
    put(t, 'x', 'file', { uid: 5 });
    expect(reownTree(t, new Map(), new Map()).uids.size).toBe(0);
    const c = reownTree(t, new Map([[5, 50]]), new Map([[6, 60]]));
    expect([t.root.uid, t.root.gid, lookup(t, 'x')?.uid]).toEqual([50, 60, 50]);
    expect(c.uids.get(5)).toEqual({ reowned: 2, examples: ['/', '/x'] });
    expect(c.gids.get(6)).toEqual({ reowned: 1, examples: ['/'] });
  });
});
