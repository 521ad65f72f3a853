// Head inputs from a stand-in head in the spec folder's .herd/ (clusters/demo keeps one): read through the spec folder, so
// a link there cannot reach the machine's own /etc, and the head root is not consulted for them at all.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHeadInputs } from '../../../src/overlay/head-inputs.ts';
import { checkSpec } from '../../../src/spec/check-spec.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const spec = (head: string) => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head:
  name: h
  address: 10.0.0.1
${head}
network: { cidr: 10.0.0.0/24, interface: eth0 }
images: { i: { source: "oci:x" } }
defaults: { image: i }
nodes:
  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2 }
`;

const HEAD = `  munge_key: .herd/head/etc/munge/munge.key
  ssh_host_keys: .herd/head/etc/warewulf/keys
  authorized_keys: .herd/head/root/.ssh/authorized_keys
  warewulf_overlays: .herd/head/usr/share/warewulf/overlays`;

function put(root: string, rel: string, body: string, mode = 0o644): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), body, { mode });
  chmodSync(join(root, rel), mode);
}

describe('head files in the spec folder\'s .herd/', () => {
  it('resolve as spec-folder paths and are read from there, not from the head root', () => {
    const r = checkSpec('cluster.yaml', spec(HEAD), () => ({ overlayFiles: {} }));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const files = r.model!.head.files;
    expect([files.mungeKey, files.sshHostKeys, files.authorizedKeys, files.warewulfOverlays].map((f) => [f.path, f.inSpec])).toEqual([
      ['.herd/head/etc/munge/munge.key', true], ['.herd/head/etc/warewulf/keys', true], ['.herd/head/root/.ssh/authorized_keys', true], ['.herd/head/usr/share/warewulf/overlays', true],
    ]);
    const specDir = mkdtempSync(join(tmpdir(), 'herd-standin-'));
    const emptyHead = mkdtempSync(join(tmpdir(), 'herd-nohead-'));
    dirs.push(specDir, emptyHead);
    put(specDir, '.herd/head/etc/munge/munge.key', 'k'.repeat(64), 0o400);
    put(specDir, '.herd/head/etc/warewulf/keys/ssh_host_ed25519_key', 'private', 0o600);
    put(specDir, '.herd/head/etc/warewulf/keys/ssh_host_ed25519_key.pub', 'ssh-ed25519 AAAA x');
    put(specDir, '.herd/head/root/.ssh/authorized_keys', 'ssh-ed25519 AAAA admin');
    const read = readHeadInputs(r.model!, emptyHead, specDir);
    expect(read.diagnostics).toEqual([]);
    expect([...read.missing.keys()]).toEqual([]);
    expect(Buffer.from(read.inputs.mungeKey!).toString()).toBe('k'.repeat(64));
    expect([...read.inputs.hostKeys!.keys()].sort()).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
  });

  it('a symlink in the stand-in head pointing out of the spec folder is refused, never followed', () => {
    const r = checkSpec('cluster.yaml', spec(HEAD), () => ({ overlayFiles: {} }));
    const specDir = mkdtempSync(join(tmpdir(), 'herd-standin-'));
    dirs.push(specDir);
    mkdirSync(join(specDir, '.herd/head/etc/munge'), { recursive: true });
    symlinkSync('/etc/hostname', join(specDir, '.herd/head/etc/munge/munge.key'));
    const read = readHeadInputs(r.model!, specDir, specDir);
    expect(read.inputs.mungeKey).toBeUndefined();
    expect(read.diagnostics.map((d) => d.rule)).toEqual(['overlay/munge-key']);
    expect(read.diagnostics[0]!.message).toMatch(/not a regular file reached without symlinks/);
  });

  it('keys beside the spec (outside .herd/) or above it are refused at validation', () => {
    const r = checkSpec('cluster.yaml', spec('  munge_key: secrets/munge.key\n  warewulf_overlays: ../ww/overlays'), () => ({ overlayFiles: {} }));
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.rule}: ${d.message}`);
    expect(errors).toEqual([
      'paths/head-file-not-allowed: head.munge_key "secrets/munge.key" is in the spec folder but not under its .herd/ state folder: keys there would be committed to git',
      'paths/head-file-not-allowed: head.warewulf_overlays "../ww/overlays" climbs out of the spec folder',
    ]);
  });
});
