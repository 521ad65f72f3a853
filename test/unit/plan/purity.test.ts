// src/plan is the pure core: no file system, processes, OS, environment, clock or randomness.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../../src/plan/', import.meta.url));
const FORBIDDEN = [/from 'node:(fs|fs\/promises|child_process|os|net|http)'/, /\bprocess\./, /Date\.now/, /new Date\(/, /Math\.random/];

describe('src/plan purity', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  it('has modules to check', () => expect(files.length).toBeGreaterThan(8));
  for (const f of files) {
    it(`${f} does no I/O and reads no ambient state`, () => {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text.split('\n')[0]).toMatch(/^\/\/ .*\(pure/);
      for (const re of FORBIDDEN) expect(text, `${f} matches ${re}`).not.toMatch(re);
    });
  }
});
