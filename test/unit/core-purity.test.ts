// The pure core (spec, compile, diagnostics) does no I/O: no fs, processes, OS, environment, clock or randomness.
// Every stage reads only the stage before it, so the same spec always compiles to the same bytes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = new URL('../../src/', import.meta.url).pathname;
const CORE = ['spec', 'compile', 'diagnostics', 'overlay', 'boottest'];
/** The I/O twins: the spec loader, the overlay build shell, what reads the head (its files, its Warewulf install), and the boot test's sandbox and run. */
const IO_TWINS = ['spec/load-from-disk.ts', 'overlay/build-overlays.ts', 'overlay/head-inputs.ts', 'overlay/warewulf-install.ts', 'boottest/sandbox.ts', 'boottest/run-boot-test.ts'];
const FORBIDDEN = [/from 'node:(fs|fs\/promises|child_process|os|net|http|https|worker_threads)'/, /\bprocess\.(env|cwd|argv|exit)\b/, /\bDate\.now\(/, /\bnew Date\(\)/, /\bMath\.random\(/];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('pure core', () => {
  for (const area of CORE) {
    it(`src/${area} does no I/O`, () => {
      const list = files(join(src, area));
      expect(list.length).toBeGreaterThan(0);
      for (const f of list.filter((f) => !IO_TWINS.some((t) => f.endsWith(t)))) {
        const text = readFileSync(f, 'utf8');
        for (const re of FORBIDDEN) expect(re.test(text), `${f.slice(src.length)} matches ${re}`).toBe(false);
      }
    });
  }

  it('the check can fail: the I/O twin of the spec loader is caught by it', () => {
    const text = readFileSync(join(src, 'spec/load-from-disk.ts'), 'utf8');
    expect(FORBIDDEN.some((re) => re.test(text))).toBe(true);
  });
});
