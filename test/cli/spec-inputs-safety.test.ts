// Hostile specs, as a pull request anyone can open would carry them, through `herd validate` in every output format:
// paths that leave the spec folder are refused where the spec names them and never opened, no byte of an outside file
// appears in text, json or github output, FIFOs never hang, dangling overlay symlinks are content, sizes are capped,
// and 200,000 nodes without a MAC end in a handful of findings instead of a stack overflow.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHerd } from '../fixtures/run-herd.ts';
import { loadSpecFromDisk } from '../../src/spec/load-from-disk.ts';
import { MAX_PER_RULE } from '../../src/spec/check-spec.ts';

const CANARY = 'CANARY-7f3a9c-TOP-SECRET';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

let scratch: string;
let spec: string;
let outside: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-spec-safety-'));
  spec = join(scratch, 'cluster');
  outside = join(scratch, 'outside');
  mkdirSync(spec);
  mkdirSync(join(outside, 'etc'), { recursive: true });
  // Outside files look like what an attacker wants: a CSV-shaped secret and a folder of them.
  writeFileSync(join(outside, 'shadow'), `name,mac\nroot:$6$${CANARY}:19000:0:99999:7:::,52:54:00:00:00:01\n`);
  writeFileSync(join(outside, 'etc', 'secret.conf'), `${CANARY}\n`);
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** The spec: two nodes with MACs; `top` adds top-level keys (inventory:, overlays:). */
function writeSpec(top = '', nodes = '  c1: { mac: "52:54:00:aa:00:01", address: 10.0.0.2 }\n  c2: { mac: "52:54:00:aa:00:02", address: 10.0.0.3 }\n', file = 'cluster.yaml'): void {
  writeFileSync(
    join(spec, file),
    `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/16, interface: eth0 }
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged], size: 1GiB }
defaults: { image: img, memory: 4GiB }
${top}nodes:
${nodes}slurm:
  partitions:
    all: { nodes: "c[1-2]", default: true, max_time: "1:00:00" }
`,
  );
}

async function herd(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await runHerd(argv, scratch);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** validate in text, json and github form; every output is checked for the canary, and the json diagnostics returned. */
async function validateAll(path = 'cluster'): Promise<{ code: number; rules: { rule: string; line?: number; message: string }[]; text: string; github: string }> {
  const text = await herd(['validate', path, '--no-color']);
  const json = await herd(['validate', path, '--format', 'json']);
  const github = await herd(['validate', path, '--format', 'github']);
  for (const r of [text, json, github]) expect(r.out).not.toContain(CANARY);
  expect(json.code).toBe(text.code);
  const doc = JSON.parse(json.out) as { diagnostics: { rule: string; line?: number; message: string }[] };
  return { code: text.code, rules: doc.diagnostics, text: text.out, github: github.out };
}

describe('spec-named paths that leave the spec folder are refused on the line that names them', () => {
  it.each([
    ['an absolute path elsewhere', () => join(outside, 'shadow')],
    ['/etc/shadow itself', () => '/etc/shadow'],
    ['a relative path climbing out', () => '../outside/shadow'],
    ['/proc/self/environ through ..', () => '../../../../../../../../proc/self/environ'],
  ])('inventory: %s', async (_name, target) => {
    writeSpec(`inventory: ${target()}\n`);
    const r = await validateAll();
    expect(r.code).toBe(1);
    expect(r.rules.map((d) => `${d.rule}@${d.line}`)).toEqual(['paths/outside-spec-folder@9']);
    expect(r.github).toMatch(/^::error file=cluster\/cluster\.yaml,line=9,col=12,title=paths\/outside-spec-folder::inventory "/);
    expect(r.text).not.toContain('PATH=');
  });

  it('inventory: a symlink to an outside file, in the folder or as a parent, is not opened', async () => {
    symlinkSync(join(outside, 'shadow'), join(spec, 'nodes.csv'));
    writeSpec('inventory: nodes.csv\n');
    let r = await validateAll();
    expect(r.rules.map((d) => d.rule)).toEqual(['paths/outside-spec-folder']);
    expect(r.rules[0]!.message).toContain(`leads through the symlink nodes.csv to ${join(outside, 'shadow')}`);

    symlinkSync('../outside', join(spec, 'data'));
    writeSpec('inventory: data/shadow\n');
    r = await validateAll();
    expect(r.rules.map((d) => d.rule)).toEqual(['paths/outside-spec-folder']);
    expect(r.rules[0]!.message).toContain('through the symlink data to ../outside');
  });

  it('inventory: a symlink that stays inside is followed, `..` resolved where the link really is', async () => {
    mkdirSync(join(spec, 'inv/2024'), { recursive: true });
    writeFileSync(join(spec, 'inv/nodes.csv'), 'name,mac\n');
    symlinkSync('inv/2024', join(spec, 'current'));
    symlinkSync('../nodes.csv', join(spec, 'inv/2024/link.csv')); // from inv/2024: inv/nodes.csv, not ./nodes.csv
    writeSpec('inventory: current/link.csv\n');
    const r = await validateAll();
    expect(r.rules).toEqual([]);
    expect(r.code).toBe(0);
    expect([...loadSpecFromDisk('cluster', scratch).inputs.keys()].sort()).toEqual([join(spec, 'cluster.yaml'), join(spec, 'current/link.csv')]);
  });

  it('inventory: a link whose `..` climbs out of the folder is refused as that link', async () => {
    symlinkSync('../../outside/shadow', join(spec, 'x.csv'));
    writeSpec('inventory: x.csv\n');
    const r = await validateAll();
    expect(r.rules.map((d) => d.rule)).toEqual(['paths/outside-spec-folder']);
    expect(r.rules[0]!.message).toContain('through the symlink x.csv to ../../outside/shadow');
  });

  it('overlays: a source outside, a source that is a symlink out, or a symlinked parent of the default folder', async () => {
    const overlays = (source?: string) => `overlays:\n  site:\n    kind: system\n${source ? `    source: ${source}\n` : ''}`;
    writeSpec(overlays(join(outside, 'etc')));
    let r = await validateAll();
    expect(r.rules.map((d) => `${d.rule}@${d.line}`)).toEqual(['paths/outside-spec-folder@12']);

    symlinkSync(join(outside, 'etc'), join(spec, 'site'));
    writeSpec(overlays('site'));
    r = await validateAll();
    expect(r.rules.map((d) => `${d.rule}@${d.line}`)).toEqual(['paths/outside-spec-folder@12']);

    symlinkSync('../outside', join(spec, 'overlays'));
    writeSpec(overlays());
    r = await validateAll();
    // The default folder overlays/site is named by the overlay's key.
    expect(r.rules.map((d) => `${d.rule}@${d.line}`)).toEqual(['paths/outside-spec-folder@10']);
    expect(r.rules[0]!.message).toContain('through the symlink overlays to ../outside');
  });
});

describe('overlay folders: only regular files are read; symlinks are listed; FIFOs never hang', () => {
  beforeEach(() => mkdirSync(join(spec, 'overlays/site/etc/systemd/system/multi-user.target.wants'), { recursive: true }));
  const overlay = 'overlays:\n  site: { kind: system }\n';

  it('lists a dangling systemd .wants link and a link out of the folder as symlinks, reading neither', async () => {
    writeFileSync(join(spec, 'overlays/site/etc/motd'), 'hello\n');
    symlinkSync('/usr/lib/systemd/system/slurmd.service', join(spec, 'overlays/site/etc/systemd/system/multi-user.target.wants/slurmd.service'));
    symlinkSync(join(outside, 'etc'), join(spec, 'overlays/site/etc/secrets'));
    symlinkSync(join(outside, 'etc/secret.conf'), join(spec, 'overlays/site/etc/secret.conf'));
    writeSpec(overlay);
    const r = await validateAll();
    expect(r.rules).toEqual([]);
    const loaded = loadSpecFromDisk('cluster', scratch);
    const site = loaded.model!.overlays['site']!;
    expect(site.files).toEqual(['etc/motd', 'etc/secret.conf', 'etc/secrets', 'etc/systemd/system/multi-user.target.wants/slurmd.service']);
    expect(site.symlinks).toEqual({
      'etc/secret.conf': join(outside, 'etc/secret.conf'),
      'etc/secrets': join(outside, 'etc'),
      'etc/systemd/system/multi-user.target.wants/slurmd.service': '/usr/lib/systemd/system/slurmd.service',
    });
    expect([...loaded.inputs.keys()].sort()).toEqual([join(spec, 'cluster.yaml'), join(spec, 'overlays/site/etc/motd')]);
    for (const b of loaded.inputs.values()) expect(Buffer.from(b).toString()).not.toContain(CANARY);
  });

  it('reports a FIFO (at any depth) on the overlay line instead of hanging', async () => {
    execFileSync('mkfifo', [join(spec, 'overlays/site/etc/systemd/pipe')]);
    writeSpec(overlay);
    const r = await validateAll();
    expect(r.code).toBe(1);
    expect(r.rules.map((d) => `${d.rule}@${d.line}`)).toEqual(['paths/unreadable-input@10']);
    expect(r.rules[0]!.message).toBe('"overlays/site/etc/systemd/pipe" in site overlay "site" is a FIFO; an overlay folder holds only regular files, directories and symlinks');
  });

  it('reports a FIFO named as the inventory, and the spec itself as a FIFO, without hanging', async () => {
    execFileSync('mkfifo', [join(spec, 'nodes.csv')]);
    writeSpec('inventory: nodes.csv\n');
    const r = await validateAll();
    expect(r.rules.map((d) => d.rule)).toEqual(['paths/unreadable-input']);
    expect(r.rules[0]!.message).toBe('inventory "nodes.csv" is a FIFO, not a regular file');
    execFileSync('mkfifo', [join(spec, 'fifo.yaml')]);
    const f = await herd(['validate', 'cluster/fifo.yaml']);
    expect([f.code, f.out]).toEqual([3, 'error cli/spec-unreadable: cluster/fifo.yaml is a FIFO, not a regular file\n  = hint: pass a cluster.yaml or the folder holding it\n']);
  });
});

describe('the spec file itself', () => {
  it('refuses a file that is not named .yaml/.yml, such as /etc/shadow, before reading it', async () => {
    for (const p of ['/etc/shadow', join(outside, 'shadow'), '/dev/zero']) {
      const r = await herd(['validate', p, '--format', 'github']);
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/^error cli\/spec-unreadable: .* is not a \.yaml file/);
      expect(r.out).not.toContain(CANARY);
    }
  });

  it('refuses a cluster.yaml that is a symlink out of its folder, and follows one inside', async () => {
    writeFileSync(join(outside, 'evil.yaml'), `name: ${CANARY}\n{{{\n`);
    symlinkSync(join(outside, 'evil.yaml'), join(spec, 'cluster.yaml'));
    const r = await herd(['validate', 'cluster', '--format', 'github']);
    expect(r.code).toBe(3);
    expect(r.out).toContain(`leads through the symlink cluster.yaml to ${join(outside, 'evil.yaml')}, outside its folder`);
    expect(r.out).not.toContain(CANARY);
    rmSync(join(spec, 'cluster.yaml'));
    writeSpec('', undefined, 'real.yaml');
    symlinkSync('real.yaml', join(spec, 'cluster.yaml'));
    expect((await herd(['validate', 'cluster'])).code).toBe(0);
  });

  it('refuses a spec on a kernel filesystem', async () => {
    const r = await herd(['validate', '/proc/self']);
    expect([r.code, r.out]).toEqual([3, 'error cli/spec-unreadable: /proc/self is on a kernel filesystem (/proc, /sys, /dev); herd reads no spec there\n  = hint: pass a cluster.yaml or the folder holding it\n']);
  });

  it('refuses a spec or an inventory over 64 MiB instead of reading it (sparse files: nothing is written)', async () => {
    writeSpec('inventory: nodes.csv\n');
    writeFileSync(join(spec, 'nodes.csv'), '');
    truncateSync(join(spec, 'nodes.csv'), 64 * 1024 * 1024 + 1);
    const r = await validateAll();
    expect(r.rules.map((d) => d.rule)).toEqual(['paths/unreadable-input']);
    expect(r.rules[0]!.message).toBe('inventory "nodes.csv" is larger than 64 MiB; herd does not read it');
    truncateSync(join(spec, 'cluster.yaml'), 64 * 1024 * 1024 + 1);
    const big = await herd(['validate', 'cluster']);
    expect([big.code, big.out]).toEqual([3, 'error cli/spec-unreadable: cluster/cluster.yaml is larger than 64 MiB; herd does not read it\n  = hint: check that this is the cluster spec\n']);
  });
});

describe('specHash and inputs', () => {
  it('hash the spec and every file read as before: sorted by path, length-prefixed; symlinks join only when present', () => {
    mkdirSync(join(spec, 'overlays/site/etc'), { recursive: true });
    writeFileSync(join(spec, 'overlays/site/etc/motd'), 'hi\n');
    writeFileSync(join(spec, 'nodes.csv'), 'name,mac\n');
    writeSpec('inventory: nodes.csv\noverlays:\n  site: { kind: system }\n');
    const manual = createHash('sha256');
    for (const rel of ['cluster.yaml', 'nodes.csv', 'overlays/site/etc/motd']) {
      const b = readFileSync(join(spec, rel));
      manual.update(rel).update('\0').update(String(b.length)).update('\0').update(b);
    }
    const before = loadSpecFromDisk('cluster', scratch);
    expect(before.specHash).toBe(manual.digest('hex'));
    expect([...before.inputs.keys()].sort()).toEqual(['cluster.yaml', 'nodes.csv', 'overlays/site/etc/motd'].map((r) => join(spec, r)));

    symlinkSync('/usr/lib/a', join(spec, 'overlays/site/etc/link'));
    const withLink = loadSpecFromDisk('cluster', scratch).specHash;
    expect(withLink).not.toBe(before.specHash);
    rmSync(join(spec, 'overlays/site/etc/link'));
    symlinkSync('/usr/lib/b', join(spec, 'overlays/site/etc/link'));
    expect(loadSpecFromDisk('cluster', scratch).specHash).not.toBe(withLink);
  });
});

describe('size: 200,000 nodes without a MAC', () => {
  it('finish with one summarised finding per range (no "Maximum call stack size exceeded")', async () => {
    const ranges = ['c[000001-050000]', 'c[050001-100000]', 'c[100001-150000]', 'c[150001-200000]'];
    writeFileSync(
      join(spec, 'cluster.yaml'),
      `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: big
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/8, interface: eth0 }
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged], size: 1GiB }
defaults: { image: img, memory: 4GiB }
nodes:
${ranges.map((r, i) => `  ${r}: { address: 10.${i + 1}.0.1 }\n`).join('')}slurm:
  partitions:
    all: { nodes: "${ranges.join(',')}", default: true, max_time: "1:00:00" }
`,
    );
    const r = await herd(['validate', 'cluster', '--format', 'github']);
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('::error file=cluster/cluster.yaml,line=10,col=3,title=net/missing-mac::node c000001 has no MAC address (and 49999 more like it here) (hint: Warewulf recognises a PXE-booting node only by its MAC: set mac: or add a row to the inventory CSV)');
  }, 120_000);

  it(`cap each rule at ${MAX_PER_RULE} findings plus one "and N more" summary, in every format`, async () => {
    const n = MAX_PER_RULE + 700;
    const nodes = Array.from({ length: n }, (_, i) => `  n${i + 1}: { address: 10.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256} }\n`).join('');
    writeSpec('', nodes);
    const r = await validateAll();
    const missing = r.rules.filter((d) => d.rule === 'net/missing-mac');
    expect(missing).toHaveLength(MAX_PER_RULE + 1);
    expect(missing.at(-1)!.message).toBe(`and ${n - MAX_PER_RULE} more net/missing-mac findings from here on, not listed (the first ${MAX_PER_RULE} are)`);
    expect(r.github.split('\n').filter((l) => l.includes('title=net/missing-mac'))).toHaveLength(MAX_PER_RULE + 1);
  });
});
