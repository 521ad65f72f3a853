// src/import is pure, like the rest of the core: no fs, processes, OS, environment, clock or randomness. Only the command
// (src/cli/commands/import.ts) reads the site, through a ConfinedDir.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../src');
const FORBIDDEN = [/from 'node:(fs|fs\/promises|child_process|os|net|http|https|worker_threads)'/, /\bprocess\.(env|cwd|argv|exit)\b/, /\bDate\.now\(/, /\bnew Date\(\)/, /\bMath\.random\(/];

describe('src/import', () => {
  it('does no I/O', () => {
    const files = readdirSync(join(SRC, 'import')).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(join(SRC, 'import', f), 'utf8');
      for (const re of FORBIDDEN) expect(re.test(text), `${f} matches ${re}`).toBe(false);
    }
  });

  it('the command reads the site only through a ConfinedDir, never by path', () => {
    const text = readFileSync(join(SRC, 'cli/commands/import.ts'), 'utf8');
    expect(text).not.toMatch(/\b(readFileSync|readdirSync|existsSync|statSync|openSync|writeFileSync|mkdirSync|renameSync)\b/);
  });
});
