// Temporary folders herd leaves behind: a dead run's .tmp-<pid> is swept, a live one is not; tracked paths go on interrupt.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTrackedTemps, sweepStaleTemps, trackTemp } from '../../../src/fs/temp-registry.ts';
import { exitOnInterrupt, type SignalHooks } from '../../../src/cli/interrupt.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herd-temps-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sweepStaleTemps', () => {
  it('removes the .tmp-<pid> entries of dead processes only, and nothing else', () => {
    for (const n of ['a.tmp-111', 'b.tmp-222', 'c', 'd.tmp-x']) mkdirSync(join(dir, n));
    writeFileSync(join(dir, 'index.json.tmp-111'), '{}');
    expect(sweepStaleTemps(dir, (pid) => pid === 222).sort()).toEqual(['a.tmp-111', 'index.json.tmp-111']);
    expect(existsSync(join(dir, 'b.tmp-222'))).toBe(true);
    expect(existsSync(join(dir, 'c'))).toBe(true);
    expect(existsSync(join(dir, 'd.tmp-x'))).toBe(true);
  });

  it('never removes this process\'s own, and treats a missing folder as nothing to sweep', () => {
    mkdirSync(join(dir, `x.tmp-${process.pid}`));
    expect(sweepStaleTemps(dir, () => false)).toEqual([]);
    expect(sweepStaleTemps(join(dir, 'absent'))).toEqual([]);
  });
});

describe('exitOnInterrupt', () => {
  function fakeProcess() {
    const handlers = new Map<string, () => void>();
    const exits: number[] = [];
    const hooks: SignalHooks = { on: (s, h) => handlers.set(s, h), off: (s) => handlers.delete(s), exit: (c) => exits.push(c) };
    return { hooks, handlers, exits };
  }

  it('removes tracked temporary paths, says what was kept in one line, exits 130, and only once', () => {
    const p = fakeProcess();
    const lines: string[] = [];
    const tmp = join(dir, 'half.tmp-1');
    mkdirSync(join(tmp, 'deep'), { recursive: true });
    trackTemp(tmp);
    exitOnInterrupt('build', 'the cache keeps finished images', { stderr: { write: (t: string) => lines.push(t) } as never }, p.hooks);
    p.handlers.get('SIGINT')!();
    expect(existsSync(tmp)).toBe(false);
    expect(lines).toEqual(['herd build: interrupted (SIGINT); the cache keeps finished images; removed 1 unfinished temporary folder\n']);
    expect(p.exits).toEqual([130]);
    expect(p.handlers.size).toBe(0);
  });

  it('a forgotten path is left alone, and release removes the handlers', () => {
    const p = fakeProcess();
    const kept = join(dir, 'done');
    mkdirSync(kept);
    trackTemp(kept)();
    const release = exitOnInterrupt('plan', 'nothing changed', { stderr: { write: () => true } as never }, p.hooks);
    expect(p.handlers.size).toBe(2);
    release();
    expect(p.handlers.size).toBe(0);
    expect(removeTrackedTemps()).toEqual([]);
    expect(existsSync(kept)).toBe(true);
  });
});
