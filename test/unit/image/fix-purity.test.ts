// The pure modules of the image fixes and verification do no I/O, read no ambient state, and do not reach content refs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PURE = ['fix/accounts.ts', 'fix/go-match.ts', 'fix/kernel.ts', 'fix/report.ts', 'verify/archive-tree.ts', 'verify/verify-image.ts'];
const FORBIDDEN = [/from 'node:(fs|fs\/promises|child_process|os|net|http|zlib|stream)'/, /\bprocess\./, /Date\.now/, /new Date\(/, /Math\.random/, /content-store\.ts'/, /tree-text\.ts'/];

describe('src/image/fix and src/image/verify purity', () => {
  for (const f of PURE) {
    it(`${f} is marked pure and does no I/O`, () => {
      const text = readFileSync(new URL(`../../../src/image/${f}`, import.meta.url), 'utf8');
      expect(text.split('\n')[0]).toMatch(/^\/\/ .*\(pure/);
      for (const re of FORBIDDEN) expect(text, `${f} matches ${re}`).not.toMatch(re);
    });
  }
});
