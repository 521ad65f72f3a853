// The hand-written sites under test/fixtures/import-sites: each imports to the spec stored beside it (expected/cluster.yaml,
// reviewed by hand) with the report stored beside it (expected/report.txt), and importing what herd builds from that spec
// gives the same spec again (the import is a fixed point once a site is herd's).
// Goldens are rewritten only with UPDATE_GOLDEN=1 outside CI; otherwise a missing or different golden fails.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importAndBuild, readTree, siteFromFiles } from './helpers.ts';
import type { Diagnostic } from '../../../src/diagnostics/diagnostic.ts';

const ROOT = join(import.meta.dirname, '../../fixtures/import-sites');
const IN_CI = Boolean(process.env.CI) && !['false', '0'].includes(process.env.CI!);
const UPDATE = process.env.UPDATE_GOLDEN === '1' && !IN_CI;

function golden(path: string, actual: string): void {
  if (UPDATE) {
    mkdirSync(join(path, '..'), { recursive: true });
    if (!existsSync(path) || readFileSync(path, 'utf8') !== actual) writeFileSync(path, actual);
    return;
  }
  expect(existsSync(path), `golden ${path} is missing; create it with UPDATE_GOLDEN=1 npx vitest run test/unit/import and review it`).toBe(true);
  expect(actual, `${path} differs; if intended, UPDATE_GOLDEN=1 npx vitest run test/unit/import and review the diff`).toBe(readFileSync(path, 'utf8'));
}

const line = (d: Diagnostic): string => `${d.severity} ${d.rule} ${d.file}:${d.line ?? '-'}:${d.column ?? '-'} ${d.message}`;

function siteOf(name: string) {
  const files = readTree(join(ROOT, name));
  const overlays = new Map<string, string[]>();
  for (const [p] of files) {
    const m = /^(?:var\/lib|srv)\/warewulf\/overlays\/([^/]+)\/(?:rootfs\/)?(.+)$/.exec(p);
    if (m) (overlays.get(m[1]!) ?? overlays.set(m[1]!, []).get(m[1]!)!).push(m[2]!);
  }
  return siteFromFiles(files, overlays);
}

describe('import corpus', () => {
  const names = readdirSync(ROOT).sort();
  it('has the sites the issue asks for', () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
  });
  for (const name of names) {
    it(`${name}: the spec and the report`, () => {
      const { result } = importAndBuild(siteOf(name));
      golden(join(ROOT, name, 'expected', 'cluster.yaml'), result.specText!);
      if (result.inventoryText) golden(join(ROOT, name, 'expected', 'inventory.csv'), result.inventoryText);
      // Files only herd writes (verdict new) are left out: which ones exist is the compiler's business, not the import's.
      const files = result.files.filter((f) => f.verdict !== 'new').map((f) => `${f.path}: ${f.verdict}`);
      golden(join(ROOT, name, 'expected', 'report.txt'), [...result.diagnostics.map(line), '', ...files].join('\n') + '\n');
    });

    it(`${name}: importing what herd builds gives the same spec again`, () => {
      const first = importAndBuild(siteOf(name));
      const site = siteOf(name);
      // The release is not in the files herd writes (4.6.5 is what the import assumes then); comments say why a value was
      // inferred, which differs between a site and herd's files of it.
      const v = first.result.version!;
      const again = importAndBuild(siteFromFiles(first.files, site.siteOverlays), v === '4.6.5' ? {} : { warewulfVersion: v });
      const plain = (t: string | undefined): string => (t ?? '').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      expect(plain(again.result.specText)).toBe(plain(first.result.specText));
      expect(again.result.inventoryText).toBe(first.result.inventoryText);
      expect(again.result.diagnostics.filter((d) => d.rule === 'import/changed-value').map((d) => d.message)).toEqual([]);
    });
  }
});
