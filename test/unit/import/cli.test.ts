// `herd import` end to end, in-process: what it writes, what it refuses, and that a failure leaves nothing behind.
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../../src/cli/main.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/import-sites');
const work = mkdtempSync(join(tmpdir(), 'herd-import-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return { stream: new Writable({ write(c: Buffer | string, _e, cb) { chunks.push(Buffer.from(c)); cb(); } }), text: () => Buffer.concat(chunks).toString('utf8') };
}
async function herd(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return herdEnv({}, cwd, ...args);
}
async function herdEnv(env: Record<string, string>, cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await main(args, { stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env, cwd });
  return { code, stdout: out.text(), stderr: err.text() };
}
let n = 0;
const fresh = (): string => { const d = join(work, `case${n++}`); mkdirSync(d); return d; };
const tree = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String).sort() : []);

describe('herd import', () => {
  it('writes the spec, the inventory and the site overlays, and says which files change', async () => {
    const cwd = fresh();
    const r = await herd(cwd, 'import', '--from', join(FIXTURES, 'condo-200'), '--out', 'site/cluster.yaml', '--no-color');
    expect(r.code).toBe(0);
    expect(tree(join(cwd, 'site'))).toEqual(['cluster.yaml', 'inventory.csv', 'overlays', 'overlays/site-sysctl', 'overlays/site-sysctl/etc', 'overlays/site-sysctl/etc/sysctl.d', 'overlays/site-sysctl/etc/sysctl.d/90-site.conf']);
    expect(readFileSync(join(cwd, 'site/cluster.yaml'), 'utf8')).toBe(readFileSync(join(FIXTURES, 'condo-200/expected/cluster.yaml'), 'utf8'));
    expect(r.stdout).toContain('etc/slurm/slurm.conf: differs in bytes only');
    expect(r.stdout).toContain('etc/warewulf/nodes.conf: differs in bytes only');
    // The imported spec validates as written.
    const v = await herd(join(cwd, 'site'), 'validate', '.', '--no-color');
    expect(v.code, v.stderr).toBe(0);
  });

  it('never shows an IPMI password: the import names a head file for it, and code frames and plan diffs give its hash', async () => {
    const cwd = fresh();
    cpSync(join(FIXTURES, 'rich'), join(cwd, 'site'), { recursive: true, filter: (p) => !p.includes('/expected') });
    const conf = join(cwd, 'site/etc/warewulf/nodes.conf');
    const text = readFileSync(conf, 'utf8');
    writeFileSync(conf, text.replace('      username: admin\n', '      username: admin\n      password: "Sup3r-Secret-BMC"\n'));
    expect(readFileSync(conf, 'utf8')).toContain('Sup3r-Secret-BMC');
    const imp = await herd(cwd, 'import', '--from', 'site', '--out', 'spec/cluster.yaml', '--no-color');
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toContain('password: <secret sha256:');
    expect(imp.stdout).toContain('etc/warewulf/nodes.conf: differs in bytes only');
    // The spec names the head file the import told the admin to create; without it nodes.conf waits as pending.
    expect(readFileSync(join(cwd, 'spec/cluster.yaml'), 'utf8')).toContain('password_file: /etc/herd/ipmi-password');
    expect(imp.stderr).toContain('put that password in /etc/herd/ipmi-password on the head');
    const before = await herd(cwd, 'plan', 'spec', '--root', 'site', '--format', 'json');
    const pending = (JSON.parse(before.stdout) as { result: { pending: { prefix: string; reason: string }[] } }).result.pending;
    expect(pending).toContainEqual({ prefix: 'etc/warewulf/nodes.conf', reason: 'the BMC password: /etc/herd/ipmi-password does not exist on this machine' });
    // With it on the (stand-in) head, nodes.conf is planned against the site's: the same password, an unchanged line.
    mkdirSync(join(cwd, 'site/etc/herd'));
    writeFileSync(join(cwd, 'site/etc/herd/ipmi-password'), 'Sup3r-Secret-BMC\n', { mode: 0o600 });
    const env = { HERD_HEAD_ROOT: join(cwd, 'site') };
    const text1 = await herdEnv(env, cwd, 'plan', 'spec', '--root', 'site', '--no-color');
    expect(text1.stdout).toContain('etc/warewulf/nodes.conf  update');
    expect(text1.stdout).toMatch(/\n {15}password: <secret sha256:[0-9a-f]{12}>\n/);
    expect(text1.stdout).not.toMatch(/[-+] *password:/);
    for (const format of ['json', 'markdown']) {
      const plan = await herdEnv(env, cwd, 'plan', 'spec', '--root', 'site', '--format', format, '--no-color');
      expect([0, 2], plan.stderr).toContain(plan.code);
      expect(plan.stdout, format).toContain('password: <secret sha256:');
      for (const out of [plan.stdout, plan.stderr]) expect(out).not.toContain('Sup3r-Secret');
    }
    for (const out of [imp.stdout, imp.stderr, before.stdout, before.stderr, text1.stdout, text1.stderr]) expect(out).not.toContain('Sup3r-Secret');
  });

  it('is deterministic: two imports of one site are byte-identical', async () => {
    const a = fresh();
    const b = fresh();
    await herd(a, 'import', '--from', join(FIXTURES, 'rich'), '--out', 'x/cluster.yaml');
    await herd(b, 'import', '--from', join(FIXTURES, 'rich'), '--out', 'x/cluster.yaml');
    for (const f of tree(join(a, 'x')).filter((p) => p.includes('.'))) expect(readFileSync(join(b, 'x', f)), f).toEqual(readFileSync(join(a, 'x', f)));
  });

  it('refuses to overwrite an existing spec unless told, and then replaces it', async () => {
    const cwd = fresh();
    mkdirSync(join(cwd, 'x'));
    writeFileSync(join(cwd, 'x/cluster.yaml'), 'mine\n');
    const r = await herd(cwd, 'import', '--from', join(FIXTURES, 'rich'), '--out', 'x/cluster.yaml');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('import/output-exists');
    expect(readFileSync(join(cwd, 'x/cluster.yaml'), 'utf8')).toBe('mine\n');
    expect(tree(join(cwd, 'x'))).toEqual(['cluster.yaml']);
    const o = await herd(cwd, 'import', '--from', join(FIXTURES, 'rich'), '--out', 'x/cluster.yaml', '--overwrite');
    expect(o.code).toBe(0);
    expect(readFileSync(join(cwd, 'x/cluster.yaml'), 'utf8')).toContain('apiVersion: herd.dev/v1alpha1');
    const again = await herd(cwd, 'import', '--from', join(FIXTURES, 'rich'), '--out', 'x/cluster.yaml', '--overwrite');
    expect(again.code).toBe(0);
    expect(tree(join(cwd, 'x')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('copies the site overlays the nodes use, keeping the executable bit, and reports what it cannot copy', async () => {
    const cwd = fresh();
    const root = join(work, 'overlay-site');
    cpSync(join(FIXTURES, 'rich'), root, { recursive: true });
    symlinkSync('/etc/passwd', join(root, 'var/lib/warewulf/overlays/nvidia-persist/rootfs/etc/link'));
    const r = await herd(cwd, 'import', '--from', root, '--out', 'x/cluster.yaml', '--no-color');
    expect(r.code).toBe(0);
    expect(statSync(join(cwd, 'x/overlays/nvidia-persist/usr/local/sbin/nv-persist')).mode & 0o777).toBe(0o755);
    expect(statSync(join(cwd, 'x/overlays/nvidia-persist/etc/nvidia-persist.conf')).mode & 0o777).toBe(0o644);
    expect(existsSync(join(cwd, 'x/overlays/nvidia-persist/etc/link'))).toBe(false);
    expect(r.stderr).toContain('symlink etc/link of site overlay nvidia-persist is not copied');
  });

  const broken = (name: string, nodesConf: string | Buffer): string => {
    const root = join(work, name);
    mkdirSync(join(root, 'etc/warewulf'), { recursive: true });
    writeFileSync(join(root, 'etc/warewulf/nodes.conf'), nodesConf);
    return root;
  };

  it('malformed YAML: a located error, exit 1, nothing written, no stack trace', async () => {
    const cwd = fresh();
    const root = broken('malformed', 'nodes:\n  c1:\n    profiles: [default\n');
    const r = await herd(cwd, 'import', '--from', root, '--out', 'x/cluster.yaml', '--no-color');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/etc\/warewulf\/nodes\.conf:\d+:\d+: error yaml\/syntax/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(tree(join(cwd, 'x'))).toEqual([]);
  });

  it('binary junk: exit 1, nothing written', async () => {
    const cwd = fresh();
    const root = broken('junk', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x00, 0xff, 0xfe, 0x00]));
    const r = await herd(cwd, 'import', '--from', root, '--out', 'x/cluster.yaml', '--no-color');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('yaml/encoding');
    expect(tree(join(cwd, 'x'))).toEqual([]);
  });

  it('unknown keys: reported where they are written (Warewulf ignores them), the import goes on', async () => {
    const cwd = fresh();
    const root = join(work, 'unknown');
    cpSync(join(FIXTURES, 'rich/etc'), join(root, 'etc'), { recursive: true });
    const text = readFileSync(join(root, 'etc/warewulf/nodes.conf'), 'utf8').replace('    comment: compute nodes\n', '    comment: compute nodes\n    kernal:\n      args: [x]\n');
    writeFileSync(join(root, 'etc/warewulf/nodes.conf'), text);
    const r = await herd(cwd, 'import', '--from', root, '--out', 'x/cluster.yaml', '--no-color');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/nodes\.conf:36:5: warning import\/unknown-key: profile key "kernal"/);
  });

  it('a missing site or nodes.conf: exit 3, nothing written', async () => {
    const cwd = fresh();
    const r1 = await herd(cwd, 'import', '--from', join(work, 'nowhere'), '--out', 'x/cluster.yaml');
    expect(r1.code).toBe(3);
    const empty = join(work, 'empty-site');
    mkdirSync(join(empty, 'etc'), { recursive: true });
    const r2 = await herd(cwd, 'import', '--from', empty, '--out', 'x/cluster.yaml');
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('import/missing-file');
    expect(tree(join(cwd, 'x'))).toEqual([]);
    const r3 = await herd(cwd, 'import');
    expect(r3.code).toBe(3);
  });

  it('never reads outside --from: a nodes.conf symlinked out of the site is refused', async () => {
    const cwd = fresh();
    const root = join(work, 'escape');
    mkdirSync(join(root, 'etc/warewulf'), { recursive: true });
    const outside = join(work, 'outside-nodes.conf');
    writeFileSync(outside, readFileSync(join(FIXTURES, 'rich/etc/warewulf/nodes.conf')));
    symlinkSync(outside, join(root, 'etc/warewulf/nodes.conf'));
    const r = await herd(cwd, 'import', '--from', root, '--out', 'x/cluster.yaml');
    expect(r.code).toBe(3);
    expect(tree(join(cwd, 'x'))).toEqual([]);
  });

  it('--format json: one document with the diagnostics and what was written', async () => {
    const cwd = fresh();
    const r = await herd(cwd, 'import', '--from', join(FIXTURES, 'on-nodes'), '--out', 'x/cluster.yaml', '--format', 'json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { command: string; ok: boolean; result: { written: string[]; nodes: number } };
    expect(doc.command).toBe('import');
    expect(doc.ok).toBe(true);
    expect(doc.result.nodes).toBe(5);
    expect(doc.result.written).toEqual(['x/cluster.yaml']);
  });
});
