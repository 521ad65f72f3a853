// `herd schema`: prints the shipped JSON Schema (equal to what gen:schema generates), writes it next to a spec, and never
// replaces a file herd did not write nor writes through a symlink.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHerd } from '../fixtures/run-herd.ts';
import { renderClusterJsonSchema } from '../../src/spec/json-schema.ts';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tmp = () => mkdtempSync(join(tmpdir(), 'herd-schema-'));

describe('herd schema', () => {
  it('prints the shipped schema, which is what gen:schema generates', async () => {
    const r = await runHerd(['schema'], tmp());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(REPO, 'schema/cluster.schema.json'), 'utf8'));
    expect(r.stdout).toBe(renderClusterJsonSchema());
  });

  it('the bundled CLI finds the shipped schema too', () => {
    const out = execFileSync(process.execPath, [join(REPO, 'bin/herd.js'), 'schema'], { cwd: tmp(), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(out).toBe(renderClusterJsonSchema());
  });

  it('--write DIR writes cluster.schema.json and prints the modeline; a second run leaves it unchanged', async () => {
    const cwd = tmp();
    const r = await runHerd(['schema', '--write', 'site'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('# yaml-language-server: $schema=./cluster.schema.json\n');
    expect(readFileSync(join(cwd, 'site/cluster.schema.json'), 'utf8')).toBe(renderClusterJsonSchema());
    const again = await runHerd(['schema', '--write', 'site'], cwd);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/unchanged/);
  });

  it('--write defaults to the current folder and replaces an older herd schema', async () => {
    const cwd = tmp();
    writeFileSync(join(cwd, 'cluster.schema.json'), JSON.stringify({ $id: 'https://herd.dev/schema/cluster.schema.json', title: 'old' }));
    const r = await runHerd(['schema', '--write'], cwd);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/updated/);
    expect(readFileSync(join(cwd, 'cluster.schema.json'), 'utf8')).toBe(renderClusterJsonSchema());
  });

  it('refuses to overwrite a file herd did not write', async () => {
    const cwd = tmp();
    writeFileSync(join(cwd, 'cluster.schema.json'), '{"title":"mine"}');
    const r = await runHerd(['schema', '--write', '.'], cwd);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a schema herd wrote/);
    expect(readFileSync(join(cwd, 'cluster.schema.json'), 'utf8')).toBe('{"title":"mine"}');
  });

  it('never writes through a symlink at the target', async () => {
    const cwd = tmp();
    const victim = join(cwd, 'victim.json');
    writeFileSync(victim, JSON.stringify({ $id: 'https://herd.dev/schema/cluster.schema.json' }));
    mkdirSync(join(cwd, 'spec'));
    symlinkSync(victim, join(cwd, 'spec/cluster.schema.json'));
    const r = await runHerd(['schema', '--write', 'spec'], cwd);
    expect(r.code).toBe(3);
    expect(lstatSync(join(cwd, 'spec/cluster.schema.json')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(cwd, 'spec/cluster.schema.json'))).toBe(victim);
    expect(readFileSync(victim, 'utf8')).not.toContain('"properties"');
    expect(existsSync(join(cwd, 'spec/.cluster.schema.json.herd-tmp'))).toBe(false);
  });

  it('refuses a kernel filesystem', async () => {
    const r = await runHerd(['schema', '--write', '/proc/x'], tmp());
    expect(r.code).toBe(3);
  });
});
