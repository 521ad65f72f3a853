// Warewulf twins of herd's overlays (pure part): which bytes Warewulf's template output carries unchanged, how each file
// becomes a template (shared blob, per-node line, owner variant, symlink), and which node stages the merge simulation
// refuses. test/integration/warewulf-twin-oracle.test.ts runs the templates through real Warewulf 4.6.5.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { composeStage, type ComposedEntry, type OverlayPart } from '../../../src/overlay/compose.ts';
import type { OverlayFile } from '../../../src/overlay/types.ts';
import { twinKey, warewulfTwins, whyNotTemplatable, type TwinStage } from '../../../src/overlay/warewulf-twin.ts';

const enc = new TextEncoder();
const sha = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');
const f = (path: string, content: string, mode = 0o644, uid = 0, gid = 0, hidden?: OverlayFile['hidden']): OverlayFile => ({ path, type: 'file', mode, uid, gid, content: enc.encode(content), ...(hidden ? { hidden } : {}) });
const d = (path: string, mode = 0o755, uid = 0, gid = 0): OverlayFile => ({ path, type: 'directory', mode, uid, gid });

function stage(node: string, parts: OverlayPart[], kind: 'system' | 'runtime' = 'system'): TwinStage {
  const c = composeStage(node, kind, parts);
  expect(c.problems).toEqual([]);
  return { node, stage: kind, parts, entries: c.entries };
}
const part = (name: string, files: OverlayFile[], builtin = false): OverlayPart => ({ name, builtin, files });
const OPTS = { overlayDir: 'var/lib/warewulf/overlays', includeBase: 'etc/warewulf' };
const text = (tree: readonly ComposedEntry[], path: string): string | undefined => {
  const e = tree.find((x) => x.path === path);
  return e?.content ? Buffer.from(e.content).toString('latin1') : undefined;
};

describe('whyNotTemplatable: what Warewulf 4.6.5 would change in a template\'s output', () => {
  it('a line longer than bufio.Scanner\'s 64 KiB ends the output; one of exactly 64 KiB with its newline passes', () => {
    expect(whyNotTemplatable(enc.encode(`${'a'.repeat(65535)}\n`))).toBeUndefined();
    expect(whyNotTemplatable(enc.encode(`x\n${'a'.repeat(65536)}\n`))).toMatch(/longer than 65536 bytes/);
    expect(whyNotTemplatable(enc.encode('a'.repeat(65537)))).toMatch(/longer than/);
  });
  it('a line holding a file or softlink marker, in any of the spellings its regular expressions take', () => {
    for (const line of ['{{ /* file "x" */ }}', 'pre{{/*file \'x\'*/}}post', '{{\t/*  softlink "/etc/x" */\t}}']) {
      expect(whyNotTemplatable(enc.encode(`ok\n${line}\n`)), line).toMatch(/marker/);
    }
    for (const line of ['{{ file "x" }}', '{{ /* files "x" */ }}', '{{ /* file x */ }}', '{{ .Id }}']) {
      expect(whyNotTemplatable(enc.encode(`${line}\n`)), line).toBeUndefined();
    }
  });
  it('binary bytes, a missing final newline and an empty file pass unchanged', () => {
    expect(whyNotTemplatable(new Uint8Array([0, 255, 0x7b, 0x7b, 10, 13]))).toBeUndefined();
    expect(whyNotTemplatable(new Uint8Array(0))).toBeUndefined();
  });
});

describe('warewulfTwins: one template per file', () => {
  const shared = 'same on both\n';
  const r = warewulfTwins(
    new Set(['o']),
    [
      stage('n1', [part('o', [d('etc'), f('etc/shared', shared), f('etc/name', 'n1\n'), f('etc/owned', 'x\n', 0o640, 202, 202), { path: 'etc/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'shared' }])]),
      stage('n2', [part('o', [d('etc'), f('etc/shared', shared), f('etc/name', 'n2\n'), f('etc/owned', 'x\n', 0o640, 203, 203), { path: 'etc/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'shared' }])]),
      stage('n3', [part('o', [d('etc'), f('etc/shared', shared), f('etc/owned', 'x\n', 0o640, 202, 202), f('etc/key', 'secret', 0o400, 0, 0, 'secret')])]),
    ],
    OPTS,
  );
  const tree = r.trees.get('o')!;
  const blobs = '../../var/lib/warewulf/overlays/o/herd/blobs/';
  const nodes = '../../var/lib/warewulf/overlays/o/herd/nodes/';

  it('refuses nothing when Warewulf would build every stage as herd did', () => {
    expect(r.refusals).toEqual([]);
  });
  it('a content every node shares is included from its blob (plus the newline Include trims), without a lookup', () => {
    const tpl = text(tree, 'rootfs/etc/shared.ww')!;
    expect(tpl).toMatch(/^\{\{ nobackup \}\}\{\{ \$b := Include \(print "([^"]+)" "([0-9a-f]{64})"\) \}\}/);
    expect(tpl).toContain(`(print "${blobs}" "${sha(shared)}")`);
    expect(tpl).not.toContain('regexFind');
    // A blob Warewulf cannot read fails the build: it must start with the mark, which is not printed.
    expect(tpl).toContain('{{ if not (hasPrefix "herd-blob\\n" $b) }}{{ fail (print "herd: wwctl overlay build cannot read " "/var/lib/warewulf/overlays/o/herd/blobs/"');
    expect(tpl).toMatch(/\{\{ trimPrefix "herd-blob\\n" \$b \}\}$/);
    expect(text(tree, `herd/blobs/${sha(shared)}`)).toBe(`herd-blob\n${shared}\n`);
    expect(tree.find((e) => e.path === `herd/blobs/${sha(shared)}`)).toMatchObject({ mode: 0o600, uid: 0, gid: 0 });
  });
  it("a node's own small content is carried in its line; a node without the file has no line, so the template aborts", () => {
    const tpl = text(tree, 'rootfs/etc/name.ww')!;
    const key = /regexFind "\(\?m\)\^(k\d+) /.exec(tpl)![1]!;
    expect(tpl).toContain(`{{ $n := Include (print "${nodes}" .Id) }}{{ if not (hasPrefix "herd-node\\n" $n) }}{{ fail`);
    expect(tpl).toContain(`(regexFind "(?m)^${key} .*$" $n)`);
    expect(tpl).toContain('{{ if not $v }}{{ abort }}');
    expect(text(tree, 'herd/nodes/n1')).toContain(`${key} =${Buffer.from('n1\n').toString('base64')}\n`);
    // n3 has no such file, yet has its node file (the read is checked): the template finds no line and aborts.
    expect(text(tree, 'herd/nodes/n3')).toMatch(/^herd-node\n/);
    expect(text(tree, 'herd/nodes/n3')).not.toMatch(new RegExp(`^${key} `, 'm'));
  });
  it('a path whose owner differs between nodes gets one template per owner, the later ones naming their output', () => {
    expect(tree.find((e) => e.path === 'rootfs/etc/owned.ww')).toMatchObject({ mode: 0o640, uid: 202, gid: 202 });
    const alt = tree.find((e) => e.path === 'rootfs/etc/owned.herd-variant-2.ww');
    expect(alt).toMatchObject({ mode: 0o640, uid: 203, gid: 203 });
    expect(text(tree, alt!.path)).toContain('{{ file "owned" }}\n');
  });
  it('symlinks are made by softlink, secrets come only from an owner-only blob marked secret', () => {
    expect(text(tree, 'rootfs/etc/link.ww')).toContain('{{ softlink (b64dec (trimPrefix "=" $v)) }}');
    expect(text(tree, 'herd/nodes/n1')).toContain(`=${Buffer.from('shared').toString('base64')}`);
    const key = tree.find((e) => e.path === `herd/blobs/${sha('secret')}`);
    expect(key).toMatchObject({ mode: 0o600, hidden: 'secret' });
    for (const n of ['n1', 'n2', 'n3']) expect(text(tree, `herd/nodes/${n}`) ?? '').not.toContain(Buffer.from('secret').toString('base64'));
  });
  it('directories carry the mode and owner herd gives them; the data folder is root-only', () => {
    expect(tree.find((e) => e.path === 'rootfs/etc')).toMatchObject({ type: 'directory', mode: 0o755, uid: 0 });
    expect(tree.find((e) => e.path === 'herd')).toMatchObject({ type: 'directory', mode: 0o700, uid: 0 });
  });
  it('is deterministic', () => {
    const again = warewulfTwins(new Set(['o']), [stage('n1', [part('o', [f('a', 'x')])])], OPTS).trees.get('o')!;
    const once = warewulfTwins(new Set(['o']), [stage('n1', [part('o', [f('a', 'x')])])], OPTS).trees.get('o')!;
    expect(again).toEqual(once);
  });
});

describe("warewulfTwins: stages Warewulf's merge would build differently fail with herd's reason", () => {
  it('a directory whose owner differs between nodes (one overlay has one set of directories): the minority is refused', () => {
    const r = warewulfTwins(
      new Set(['o']),
      ['a', 'b', 'c'].map((n) => stage(n, [part('o', [d('etc/munge', 0o700, n === 'c' ? 996 : 995, n === 'c' ? 996 : 995), f('etc/munge/key', 'k', 0o400, 995, 995)])])),
      OPTS,
    );
    expect(r.refusals).toEqual([{ node: 'c', stage: 'system', reason: '/etc/munge would be directory 0700 995:995 where herd\'s is directory 0700 996:996' }]);
    const tree = r.trees.get('o')!;
    expect(text(tree, 'rootfs/.herd-check.ww')).toContain('{{ fail (trimPrefix "!" $v) }}');
    expect(text(tree, 'herd/nodes/c')).toMatch(/^check !herd: wwctl overlay build cannot make node c's system overlay as herd built it: \/etc\/munge would be/m);
    expect(text(tree, 'herd/nodes/a') ?? '').not.toContain('check');
  });
  it("a node refused in both stages fails each stage's build with that stage's words", () => {
    const sys = (n: string, uid: number) => stage(n, [part('s', [d('etc/a', 0o700, uid, uid), f('etc/a/x', 'x')])], 'system');
    const run = (n: string, uid: number) => stage(n, [part('r', [d('etc/b', 0o700, uid, uid), f('etc/b/y', 'y')])], 'runtime');
    const r = warewulfTwins(new Set(['s', 'r']), [sys('a', 1), run('a', 1), sys('b', 1), run('b', 1), sys('c', 2), run('c', 2)], OPTS);
    expect(r.refusals.map((x) => `${x.node} ${x.stage}`)).toEqual(['c system', 'c runtime']);
    expect(text(r.trees.get('s')!, 'herd/nodes/c')).toMatch(/^check !herd: wwctl overlay build cannot make node c's system overlay as herd built it: \/etc\/a would be/m);
    expect(text(r.trees.get('r')!, 'herd/nodes/c')).toMatch(/^check !herd: wwctl overlay build cannot make node c's runtime overlay as herd built it: \/etc\/b would be/m);
  });
  it("a twin's file over a file of Warewulf's own overlay keeps the first mode; over a later one Warewulf keeps a .wwbackup", () => {
    const ww = part('wwinit', [f('etc/x', 'warewulf\n', 0o600)], true);
    const first = warewulfTwins(new Set(['o']), [stage('n', [ww, part('o', [f('etc/x', 'herd\n', 0o644)])])], OPTS);
    expect(first.refusals[0]?.reason).toBe("/etc/x would be file 0600 0:0 where herd's is file 0644 0:0");
    const later = warewulfTwins(new Set(['o']), [stage('n', [part('o', [f('etc/x', 'herd\n', 0o644)]), ww])], OPTS);
    expect(later.refusals[0]?.reason).toMatch(/replaces an earlier overlay's file, and Warewulf's own template keeps a \.wwbackup/);
  });
  it('a file Warewulf would mangle fails that node only, from its payload', () => {
    const r = warewulfTwins(new Set(['o']), [stage('a', [part('o', [f('x', 'fine\n')])]), stage('b', [part('o', [f('x', '{{ /* file "y" */ }}\n')])])], OPTS);
    expect(r.refusals).toEqual([{ node: 'b', stage: 'system', reason: '/x holds a line Warewulf would take for its own file or softlink marker' }]);
    expect(text(r.trees.get('o')!, 'herd/nodes/b')).toMatch(/^k1 !herd: \/x holds a line Warewulf would take/m);
  });
  it('a setuid bit does not survive Warewulf (umask and chown), so the stage is refused', () => {
    const r = warewulfTwins(new Set(['o']), [stage('a', [part('o', [f('bin/x', 'x', 0o4755)])])], OPTS);
    expect(r.refusals[0]?.reason).toBe("/bin/x would be file 0755 0:0 where herd's is file 4755 0:0");
  });
});

describe('twinKey: what lets an unchanged cluster skip making its twins', () => {
  const key = (parts: OverlayPart[][]) => twinKey(new Set(['a', 'b']), parts.map((p, i) => stage(`n${i}`, p)), OPTS);
  const base = () => [[part('a', [f('etc/x', 'one\n')]), part('b', [f('etc/y', 'two\n')])], [part('a', [f('etc/x', 'one\n')])]];
  it('is the same for equal inputs (other objects, same content)', () => {
    expect(key(base())).toBe(key(base()));
  });
  it('changes with a node\'s content, mode, owner, a file moving to another overlay, or a file hidden by a later overlay', () => {
    const k = key(base());
    const variants: OverlayPart[][][] = [
      [[part('a', [f('etc/x', 'one!\n')]), part('b', [f('etc/y', 'two\n')])], [part('a', [f('etc/x', 'one\n')])]],
      [[part('a', [f('etc/x', 'one\n', 0o600)]), part('b', [f('etc/y', 'two\n')])], [part('a', [f('etc/x', 'one\n')])]],
      [[part('a', [f('etc/x', 'one\n', 0o644, 7)]), part('b', [f('etc/y', 'two\n')])], [part('a', [f('etc/x', 'one\n')])]],
      [[part('a', []), part('b', [f('etc/y', 'two\n'), f('etc/x', 'one\n')])], [part('a', [f('etc/x', 'one\n')])]],
      [[part('a', [f('etc/x', 'one\n'), f('etc/y', 'hidden\n')]), part('b', [f('etc/y', 'two\n')])], [part('a', [f('etc/x', 'one\n')])]],
    ];
    for (const v of variants) expect(key(v)).not.toBe(k);
  });
});
