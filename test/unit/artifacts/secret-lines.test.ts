// IPMI passwords are shown by hash only wherever herd quotes nodes.conf or wwinit's config.
import { describe, expect, it } from 'vitest';
import { redactSecrets, secretMark } from '../../../src/artifacts/secret-lines.ts';
import { unifiedDiff } from '../../../src/plan/text-diff.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('secret lines', () => {
  it('hashes the value whatever its quoting, keeps indentation, comments and every other line', () => {
    const yaml = 'nodes:\n  n1:\n    ipmi:\n      username: admin\n      password: "s3cret"  # the BMC\'s\n  n2:\n    ipmi:\n      password: \'s3cret\'\n      passwordless: x\n';
    const out = redactSecrets('etc/warewulf/nodes.conf', yaml);
    const mark = secretMark('s3cret');
    expect(mark).toMatch(/^<secret sha256:[0-9a-f]{12}>$/);
    expect(out).toBe(`nodes:\n  n1:\n    ipmi:\n      username: admin\n      password: ${mark}  # the BMC's\n  n2:\n    ipmi:\n      password: ${mark}\n      passwordless: x\n`);
    expect(redactSecrets('warewulf/config', 'WWIPMI_USER="admin"\nWWIPMI_PASSWORD="s3cret"\n')).toBe(`WWIPMI_USER="admin"\nWWIPMI_PASSWORD=${mark}\n`);
    // Other files are quoted as they are.
    expect(redactSecrets('etc/slurm/slurm.conf', 'password: x\n')).toBe('password: x\n');
  });
  it('a diff shows a changed password as a changed hash, and the same password spelled otherwise as no change', () => {
    const a = enc('ipmi:\n  password: one\n  port: "623"\n');
    expect(unifiedDiff('etc/warewulf/nodes.conf', a, enc('ipmi:\n  password: "one"\n  port: "623"\n'), ['live', 'planned'])).toBeUndefined();
    const d = unifiedDiff('etc/warewulf/nodes.conf', a, enc('ipmi:\n  password: two\n  port: "623"\n'), ['live', 'planned'])!;
    expect(d).toContain(`-  password: ${secretMark('one')}`);
    expect(d).toContain(`+  password: ${secretMark('two')}`);
    expect(d).not.toMatch(/password: (one|two)/);
  });
});

describe('secret lines in flow style', () => {
  it('hashes a password inside { ... } and leaves its neighbours', () => {
    const mark = secretMark('pw');
    expect(redactSecrets('site/etc/warewulf/nodes.conf', '    ipmi: { username: admin, password: pw, port: "623" }\n    x: { password: "pw"}\n')).toBe(`    ipmi: { username: admin, password: ${mark}, port: "623" }\n    x: { password: ${mark}}\n`);
  });
});
