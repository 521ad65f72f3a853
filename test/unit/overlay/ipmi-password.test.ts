// ipmi.password_file: the BMC password is read on the head when herd builds, reaches nodes.conf (and wwinit's config, see
// test/integration/warewulf-oracle-overlays.test.ts), never the spec; without the file nodes.conf waits as pending; a file
// outside /etc/herd/ (or the spec folder's .herd/) or a password Warewulf cannot carry is an error naming the line.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpecAt } from '../../../src/pipeline.ts';
import { isPendingPath } from '../../../src/artifacts/artifact.ts';
import { labVariant } from '../../fixtures/lab-variant.ts';

const repo = new URL('../../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'herd-ipmi-password-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

function lab(passwordFile: string, password?: string): string {
  const dir = labVariant(join(work, `lab${n++}`), [['    threads_per_core: 1\n', `    threads_per_core: 1\n    ipmi: { username: admin, password_file: "${passwordFile}" }\n`]]);
  if (password !== undefined) {
    mkdirSync(join(dir, '.herd'), { recursive: true });
    writeFileSync(join(dir, '.herd/bmc-password'), password, { mode: 0o600 });
  }
  return dir;
}
const nodesConf = (r: Awaited<ReturnType<typeof compileSpecAt>>): string | undefined => {
  const a = r.artifacts?.artifacts.find((x) => x.path === 'etc/warewulf/nodes.conf');
  return a?.bytes ? new TextDecoder().decode(a.bytes) : undefined;
};

describe('ipmi.password_file', () => {
  it('read from the stand-in head: nodes.conf carries the password (its first line), on the profile the nodes share', async () => {
    const r = await compileSpecAt(lab('.herd/bmc-password', 'bmc-Pass.1\nsecond line ignored\n'), repo, { images: false, headRoot: work });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const text = nodesConf(r)!;
    expect(text.match(/password: bmc-Pass\.1\n/g)).toHaveLength(1);
    expect(text).not.toContain('second line');
    expect(isPendingPath(r.artifacts!, 'etc/warewulf/nodes.conf')).toBe(false);
  });

  it('absent (a pull-request runner): nodes.conf is pending with the reason, never compiled without the password', async () => {
    const r = await compileSpecAt(lab('/etc/herd/ipmi-password'), repo, { images: false, headRoot: work });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(nodesConf(r)).toBeUndefined();
    expect(r.artifacts!.pending).toEqual([{ prefix: 'etc/warewulf/nodes.conf', reason: 'the BMC password: /etc/herd/ipmi-password does not exist on this machine' }]);
  });

  it('a password Warewulf cannot carry is an error naming the file, never quoting it', async () => {
    for (const [pw, why] of [['', 'is empty'], ['x'.repeat(21), 'is 21 bytes'], ['a"b', 'shell-quoted'], ['a$b', 'shell-quoted']] as const) {
      const r = await compileSpecAt(lab('.herd/bmc-password', `${pw}\n`), repo, { images: false, headRoot: work });
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(errors.map((d) => d.rule), pw).toEqual(['overlay/head-file']);
      expect(errors[0]!.message).toContain(why);
      if (pw.length > 2) expect(errors[0]!.message).not.toContain(pw);
      expect(r.artifacts).toBeUndefined();
    }
  });

  it('only a file of its own in /etc/herd/, or under the spec folder\'s .herd/', async () => {
    for (const bad of ['/etc/shadow', '/etc/herd/../shadow', '/etc/herd/sub/pw', 'bmc-password', '../x', '.herd/']) {
      const r = await compileSpecAt(lab(bad), repo, { images: false, headRoot: work });
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(errors.map((d) => `${d.rule} ${d.line}`), bad).toEqual([`paths/head-file-not-allowed ${errors[0]?.line}`]);
      expect(errors[0]!.message).toContain('ipmi.password_file');
    }
  });
});
