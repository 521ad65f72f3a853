// Adoption of a root herd itself applied: `herd apply EXAMPLE --root R`, then `herd import --from R`, then `herd plan` of the
// imported spec against R, all through the real CLI. The plan must change exactly the files the import said differ in bytes
// only, and nothing that changes meaning: none at all on the root as applied, and only nodes.conf and slurm.conf once those
// two are rewritten the way an admin's tools would (herd's comments gone, keys unchanged).
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

const REPO = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'herd-import-applied-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
/** An empty stand-in for the head's `/`: no munge key or SSH host keys are read from the machine running the test. */
const headInputs = join(work, 'head');
mkdirSync(headInputs);

async function herd(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const chunks: [Buffer[], Buffer[]] = [[], []];
  const sink = (i: 0 | 1): Writable => new Writable({ write(c: Buffer | string, _e, cb) { chunks[i].push(Buffer.from(c)); cb(); } });
  const code = await main(args, { stdin: Readable.from([]), stdout: sink(0), stderr: sink(1), env: { HERD_HEAD_ROOT: headInputs }, cwd });
  return { code, stdout: Buffer.concat(chunks[0]).toString('utf8'), stderr: Buffer.concat(chunks[1]).toString('utf8') };
}

interface ImportJson {
  result: { files: { path: string; verdict: string }[] };
  diagnostics?: { rule: string; message: string }[];
}
interface PlanJson {
  result: { changes: { path: string; kind: string; reasons: string[] }[] };
}

/** Import the root into a new spec folder and plan that spec against the root: the import's verdicts and the plan's config changes. */
async function importThenPlan(dir: string, root: string, out: string): Promise<{ verdicts: Map<string, string>; changed: string[]; imported: ImportJson }> {
  const imp = await herd(dir, 'import', '--from', root, '--out', `${out}/cluster.yaml`, '--format', 'json');
  expect(imp.code, imp.stdout + imp.stderr).toBe(0);
  const imported = JSON.parse(imp.stdout) as ImportJson;
  const plan = await herd(dir, 'plan', out, '--root', root, '--format', 'json');
  expect([0, 1, 2], plan.stderr).toContain(plan.code);
  const changes = (JSON.parse(plan.stdout) as PlanJson).result.changes.filter((c) => c.kind === 'config');
  return { verdicts: new Map(imported.result.files.map((f) => [f.path, f.verdict])), changed: changes.map((c) => c.path).sort(), imported };
}

describe('herd apply, herd import of the applied root, herd plan of the import against it', () => {
  for (const example of ['lab', 'condo']) {
    it(`${example}: no change of meaning, and exactly the announced byte-only differences`, async () => {
      const dir = join(work, example);
      mkdirSync(dir);
      cpSync(join(REPO, 'clusters', example), join(dir, 'spec'), { recursive: true, filter: (p) => !p.includes('/.herd') });
      const applied = await herd(dir, 'apply', 'spec', '--root', 'root', '--yes', '--format', 'json');
      expect(applied.code, applied.stdout + applied.stderr).toBe(0);
      const nodesConf = join(dir, 'root/etc/warewulf/nodes.conf');
      expect(readFileSync(nodesConf, 'utf8')).toContain('nodeprofiles:');

      // The root as herd applied it: every file the import judges is identical, and the plan changes nothing.
      const first = await importThenPlan(dir, 'root', 'imported');
      expect([...first.verdicts].filter(([, v]) => v !== 'identical' && v !== 'new')).toEqual([]);
      expect(first.verdicts.get('etc/warewulf/nodes.conf')).toBe('identical');
      expect(first.verdicts.get('etc/slurm/slurm.conf')).toBe('identical');
      expect((first.imported.diagnostics ?? []).filter((d) => d.rule === 'import/changed-value')).toEqual([]);
      expect(first.changed.filter((p) => p !== 'etc/hosts')).toEqual([]);

      // The same root after tools rewrote two files without changing a key: the import calls them bytes-only and nothing
      // else, and the plan changes exactly those two.
      for (const rel of ['etc/warewulf/nodes.conf', 'etc/slurm/slurm.conf']) {
        const file = join(dir, 'root', rel);
        const text = readFileSync(file, 'utf8');
        const rewritten = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
        expect(rewritten).not.toBe(text);
        writeFileSync(file, rewritten);
      }
      const second = await importThenPlan(dir, 'root', 'rewritten');
      const differing = [...second.verdicts].filter(([, v]) => v !== 'identical' && v !== 'new');
      expect(differing).toEqual([['etc/slurm/slurm.conf', 'bytes-only'], ['etc/warewulf/nodes.conf', 'bytes-only']]);
      expect((second.imported.diagnostics ?? []).filter((d) => d.rule === 'import/changed-value')).toEqual([]);
      expect(second.changed.filter((p) => p !== 'etc/hosts')).toEqual(['etc/slurm/slurm.conf', 'etc/warewulf/nodes.conf']);
    });
  }
});
