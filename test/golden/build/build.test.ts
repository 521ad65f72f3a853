// Golden files for every example cluster's compiled artifacts. Regenerate deliberately with UPDATE_GOLDEN=1 (never under CI) and review the diff like code.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { compileSpecAt } from '../../../src/pipeline.ts';

const root = new URL('../../../', import.meta.url).pathname;
const here = new URL('.', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1' && !process.env.CI;
const clusters = readdirSync(join(root, 'clusters')).filter((c) => existsSync(join(root, 'clusters', c, 'cluster.yaml')));

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

describe('golden build output', () => {
  it('covers every example cluster', () => {
    expect(clusters).toEqual(expect.arrayContaining(['lab', 'condo']));
  });
  for (const cluster of clusters) {
    it(`clusters/${cluster} compiles to its golden files`, async () => {
      const r = await compileSpecAt(`clusters/${cluster}`, root, { images: false });
      expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const dir = join(here, cluster);
      const config = r.artifacts!.artifacts.filter((a) => a.bytes && !a.secret);
      if (update) {
        rmSync(dir, { recursive: true, force: true });
        for (const a of config) {
          mkdirSync(dirname(join(dir, a.path)), { recursive: true });
          writeFileSync(join(dir, a.path), a.bytes!);
        }
      }
      expect(listFiles(dir), 'golden file set (UPDATE_GOLDEN=1 to regenerate)').toEqual(config.map((a) => a.path).sort());
      for (const a of config) expect(new TextDecoder().decode(a.bytes!), a.path).toBe(readFileSync(join(dir, a.path), 'utf8'));
    });
  }
});
