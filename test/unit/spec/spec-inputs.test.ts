// What the spec loader reads and what reaches the user: symlink chains, loops and the spec folder itself as an input,
// overlay symlinks in the model, input problems as located diagnostics, and renderers that never pass control characters
// (escape sequences someone else wrote) to a terminal or a CI log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import { inputProblemDiagnostic } from '../../../src/spec/input-problems.ts';
import { renderDiagnostics, renderFailure, renderGithub } from '../../../src/diagnostics/render-text.ts';
import { herdFailure, type Diagnostic } from '../../../src/diagnostics/diagnostic.ts';
import { RULES } from '../../../src/diagnostics/rule-catalog.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const SPEC = (top = ''): string => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged], size: 1GiB }
defaults: { image: img, memory: 4GiB }
${top}nodes:
  c1: { mac: "52:54:00:aa:00:01", address: 10.0.0.2 }
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herd-spec-inputs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rules = (path: string): string[] => loadSpecFromDisk(path, dir).diagnostics.map((d) => `${d.rule}@${d.line}:${d.column}`);

describe('loading from disk', () => {
  it('follows a chain of in-folder symlinks, absolute (through the real path) or relative', () => {
    mkdirSync(join(dir, 'inv'));
    writeFileSync(join(dir, 'inv/real.csv'), 'name,mac\n');
    symlinkSync(join(realpathSync(dir), 'inv/real.csv'), join(dir, 'abs.csv'));
    symlinkSync('abs.csv', join(dir, 'nodes.csv'));
    writeFileSync(join(dir, 'cluster.yml'), SPEC('inventory: nodes.csv\n'));
    expect(rules('cluster.yml')).toEqual([]);
  });

  it('reports a symlink loop and the spec folder named as the inventory, on the inventory line', () => {
    symlinkSync('b.csv', join(dir, 'a.csv'));
    symlinkSync('a.csv', join(dir, 'b.csv'));
    writeFileSync(join(dir, 'cluster.yaml'), SPEC('inventory: a.csv\n'));
    const loop = loadSpecFromDisk('.', dir).diagnostics;
    expect(loop.map((d) => [d.rule, d.line, d.message])).toEqual([['paths/unreadable-input', 9, 'inventory "a.csv" has too many levels of symlinks']]);
    writeFileSync(join(dir, 'cluster.yaml'), SPEC('inventory: .\n'));
    expect(loadSpecFromDisk('.', dir).diagnostics.map((d) => d.message)).toEqual(['inventory "." is the spec folder itself, not a regular file']);
  });

  it('accepts an absolute path that lies inside the spec folder, as written or through its real path', () => {
    writeFileSync(join(dir, 'nodes.csv'), 'name,mac\n');
    writeFileSync(join(dir, 'cluster.yaml'), SPEC(`inventory: ${join(dir, 'nodes.csv')}\n`));
    expect(rules('.')).toEqual([]);
    writeFileSync(join(dir, 'cluster.yaml'), SPEC(`inventory: ${join(realpathSync(dir), 'nodes.csv')}\n`));
    expect(rules('.')).toEqual([]);
  });

  it('a missing overlay folder is still overlay/missing-source, a file where it should be too', () => {
    writeFileSync(join(dir, 'cluster.yaml'), SPEC('overlays:\n  site: { kind: system }\n'));
    expect(rules('.')).toEqual(['overlay/missing-source@10:9']);
    mkdirSync(join(dir, 'overlays'));
    writeFileSync(join(dir, 'overlays/site'), 'not a folder');
    expect(rules('.')).toEqual(['overlay/missing-source@10:9']);
  });
});

describe('overlay symlinks in the model', () => {
  it('are listed with their targets by the pure core, which the I/O twin feeds', () => {
    const r = checkSpec('cluster.yaml', SPEC('overlays:\n  site: { kind: system }\n'), () => ({
      overlayFiles: { site: ['etc/a', 'etc/l'] },
      overlaySymlinks: { site: { 'etc/l': '/usr/lib/x' } },
    }));
    expect(r.model?.overlays['site']).toMatchObject({ files: ['etc/a', 'etc/l'], symlinks: { 'etc/l': '/usr/lib/x' } });
  });

  it('report problems from the I/O twin on the overlay\'s source line, without a follow-on missing-source', () => {
    const r = checkSpec('cluster.yaml', SPEC('overlays:\n  site:\n    kind: system\n    source: /etc\n'), () => ({
      overlayFiles: { site: undefined },
      overlayProblems: { site: [{ entry: false, problem: { kind: 'outside', path: '/etc' } }] },
    }));
    expect(r.diagnostics.map((d) => `${d.rule}@${d.line}:${d.column}`)).toEqual(['paths/outside-spec-folder@12:13']);
  });
});

describe('input problems', () => {
  const at = { file: 'cluster.yaml', path: ['inventory'], line: 5, column: 12 };
  it('become catalogued, located errors that name paths and link targets only', () => {
    const ds = [
      inputProblemDiagnostic(at, { kind: 'inventory' }, { kind: 'outside', path: '/etc/shadow' }),
      inputProblemDiagnostic(at, { kind: 'inventory' }, { kind: 'outside', path: 'n.csv', link: 'n.csv', target: '/etc/shadow' }),
      inputProblemDiagnostic(at, { kind: 'overlay-entry', name: 'site' }, { kind: 'not-regular', path: 'overlays/site/dev/null', what: 'a device' }),
      inputProblemDiagnostic(at, { kind: 'overlay', name: 'site' }, { kind: 'too-many', path: 'overlays/site', limit: 100_000, unit: 'entries' }),
      inputProblemDiagnostic(at, { kind: 'inventory' }, { kind: 'unreadable', path: 'n.csv', code: 'EACCES' }),
    ];
    for (const d of ds) {
      expect(RULES[d.rule], d.rule).toBeDefined();
      expect(d).toMatchObject({ severity: 'error', file: 'cluster.yaml', line: 5, column: 12 });
    }
    expect(ds.map((d) => d.message)).toEqual([
      'inventory "/etc/shadow" is outside the spec folder; herd reads only files inside it',
      'inventory "n.csv" leads through the symlink n.csv to /etc/shadow, outside the spec folder; herd does not follow it',
      '"overlays/site/dev/null" in site overlay "site" is a device; an overlay folder holds only regular files, directories and symlinks',
      'the folder "overlays/site" of site overlay "site": the site overlay folders hold more than 100000 entries; herd stopped listing them',
      'inventory "n.csv" cannot be read (EACCES)',
    ]);
  });
});

describe('renderers', () => {
  const d: Diagnostic = { rule: 'node/invalid-name', severity: 'error', message: 'name "\u001b]8;;http://x\u0007a\u001b[2J" is bad', hint: 'x\u009by', file: 'cluster.yaml', line: 1, column: 7 };
  const sources = new Map([['cluster.yaml', 'name: "\u001b[31mred"\r\nnext\n']]);

  it('show control characters as U+FFFD in messages, hints and code frames, carets still aligned', () => {
    const text = renderDiagnostics([d], sources);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toBe('cluster.yaml:1:7: error node/invalid-name: name "\ufffd]8;;http://x\ufffda\ufffd[2J" is bad\n  1 | name: "\ufffd[31mred"\n    |       ^^^^^^^^^^\n  = hint: x\ufffdy\n');
    expect(renderGithub([d])).toBe('::error file=cluster.yaml,line=1,col=7,title=node/invalid-name::name "\ufffd]8;;http://x\ufffda\ufffd[2J" is bad (hint: x\ufffdy)\n');
    expect(renderFailure(herdFailure('cli/spec-unreadable', 'a\u001b[2Jb'))).toBe('error cli/spec-unreadable: a\ufffd[2Jb\n');
  });

  it('quote source lines only from the texts they are given', () => {
    expect(renderDiagnostics([{ ...d, file: 'elsewhere.csv' }], sources)).not.toContain('|');
  });
});
