// Adoption, end to end: `herd import --from SITE` then `herd plan OUT --root SITE` for every hand-written site. The plan
// changes exactly the files the import said would differ (in bytes only, in meaning, or new), plus herd's block of
// /etc/hosts; a file the import called identical is not in the plan.
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/import-sites');
const work = mkdtempSync(join(tmpdir(), 'herd-import-plan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function herd(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const chunks: [Buffer[], Buffer[]] = [[], []];
  const sink = (i: 0 | 1): Writable => new Writable({ write(c: Buffer | string, _e, cb) { chunks[i].push(Buffer.from(c)); cb(); } });
  const code = await main(args, { stdin: Readable.from([]), stdout: sink(0), stderr: sink(1), env: {}, cwd });
  return { code, stdout: Buffer.concat(chunks[0]).toString('utf8'), stderr: Buffer.concat(chunks[1]).toString('utf8') };
}

describe('herd import, then herd plan against the same site', () => {
  for (const name of readdirSync(FIXTURES).sort()) {
    it(`${name}: the plan changes what the import said would differ, nothing else`, async () => {
      const site = join(work, name, 'site');
      cpSync(join(FIXTURES, name), site, { recursive: true, filter: (p) => !p.includes('/expected') });
      const imp = await herd(join(work, name), 'import', '--from', 'site', '--out', 'spec/cluster.yaml', '--format', 'json');
      expect(imp.code, imp.stdout).toBe(0);
      const files = (JSON.parse(imp.stdout) as { result: { files: { path: string; verdict: string }[] } }).result.files;
      const plan = await herd(join(work, name), 'plan', 'spec', '--root', 'site', '--format', 'json');
      expect([0, 1, 2], plan.stderr).toContain(plan.code);
      const changes = (JSON.parse(plan.stdout) as { result: { changes: { path: string; kind: string; reasons: string[] }[] } }).result.changes.filter((c) => c.kind === 'config');
      const judged = new Map(files.map((f) => [f.path, f.verdict]));
      for (const c of changes) {
        if (c.path === 'etc/hosts') continue;
        const v = judged.get(c.path);
        expect(v, `${c.path} is in the plan (${c.reasons.join(', ')}) but the import did not name it`).toBeDefined();
        // A file the import called identical may only change its mode (the import compares contents).
        if (v === 'identical') expect(c.reasons, c.path).toEqual(['mode']);
      }
      for (const f of files) if (f.verdict !== 'identical') expect(changes.map((c) => c.path), f.path).toContain(f.path);
    });
  }
});
