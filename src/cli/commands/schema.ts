// `herd schema [--write [DIR]]` (I/O shell): the JSON Schema of the running herd, for editors, printed or written next to a spec.
// It reads schema/cluster.schema.json shipped with the package (what `npm run gen:schema` writes; a test keeps them equal), so
// a spec anywhere can point its yaml-language-server modeline at a copy that matches the herd that checks it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { herdFailure } from '../../diagnostics/diagnostic.ts';
import { ConfinedDir, isPathBlocked } from '../../fs/confined-dir.ts';

export const SCHEMA_FILE = 'cluster.schema.json';
/** The `$id` every schema herd generates carries (src/spec/json-schema.ts SCHEMA_ID); a file without it is not herd's to replace. */
const HERD_SCHEMA_ID = 'https://herd.dev/schema/cluster.schema.json';
const TEMP = `.${SCHEMA_FILE}.herd-tmp`;

/** The shipped schema: found by walking up from this module (src/cli/commands/ in a checkout, dist/chunks/ in the bundle). */
export function shippedSchemaText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'schema', SCHEMA_FILE);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return readFileSync(candidate, 'utf8');
    const up = dirname(dir);
    if (up === dir) throw herdFailure('schema/not-shipped', `schema/${SCHEMA_FILE} is missing from this herd install`, 'reinstall herd, or run npm run gen:schema in a checkout');
    dir = up;
  }
}

/** True when `text` is a schema herd wrote (any version): the only file --write may replace. Pure. */
export function isHerdSchema(text: string): boolean {
  try {
    const v = JSON.parse(text) as { $id?: unknown } | null;
    return typeof v === 'object' && v !== null && v.$id === HERD_SCHEMA_ID;
  } catch {
    return false;
  }
}

function writeSchema(dirPath: string, text: string): 'created' | 'updated' | 'unchanged' {
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(dirPath, { what: 'schema folder', create: true });
  } catch (e) {
    if (isPathBlocked(e)) throw herdFailure('schema/unsafe-path', e.message, 'choose the folder that holds your cluster.yaml');
    throw herdFailure('schema/unsafe-path', `cannot open ${dirPath}: ${(e as Error).message}`, 'choose the folder that holds your cluster.yaml');
  }
  try {
    const st = dir.lstat(SCHEMA_FILE);
    let state: 'created' | 'updated' = 'created';
    if (st !== null) {
      if (!st.isFile()) throw herdFailure('schema/not-herds', `${join(dirPath, SCHEMA_FILE)} exists and is not a regular file (a symlink or folder is never written through)`, 'remove it, or write the schema to another folder');
      const old = dir.readFile(SCHEMA_FILE, 16 * 1024 * 1024);
      if (old === undefined || !isHerdSchema(old.toString('utf8'))) throw herdFailure('schema/not-herds', `${join(dirPath, SCHEMA_FILE)} exists and is not a schema herd wrote; herd leaves it alone`, 'remove it, or write the schema to another folder');
      if (old.toString('utf8') === text) return 'unchanged';
      state = 'updated';
    }
    dir.unlink(TEMP);
    dir.writeNew(TEMP, text, 0o644, { mkdirs: false });
    dir.rename(TEMP, SCHEMA_FILE);
    return state;
  } finally {
    dir.close();
  }
}

export const command: Command = {
  name: 'schema',
  summary: "print the spec's JSON Schema, or write it next to a spec for editors (--write [DIR])",
  usage: '[--write [DIR]]',
  formats: ['text'],
  help:
    'Without flags: print the JSON Schema of this herd to stdout.\n' +
    `--write [DIR]  write ${SCHEMA_FILE} into DIR (default: current folder) and print the modeline for the spec's first line.\n` +
    '               Only a schema herd wrote is replaced; anything else at that name is refused.',
  options: { write: { type: 'boolean' } },
  async run(args, ctx) {
    const text = shippedSchemaText();
    if (!args.values.write) {
      if (args.positionals.length > 0) throw herdFailure('schema/usage', `unexpected argument ${args.positionals[0]}`, 'use herd schema --write DIR to write the schema into DIR');
      ctx.io.stdout.write(text);
      return EXIT.ok;
    }
    if (args.positionals.length > 1) throw herdFailure('schema/usage', 'herd schema --write takes one folder', 'herd schema --write clusters/lab');
    const dirArg = args.positionals[0] ?? '.';
    const state = writeSchema(resolve(ctx.io.cwd, dirArg), text);
    ctx.io.stderr.write(`${state === 'unchanged' ? 'unchanged' : state === 'created' ? 'wrote' : 'updated'} ${join(dirArg, SCHEMA_FILE)}\n`);
    ctx.io.stdout.write(`# yaml-language-server: $schema=./${SCHEMA_FILE}\n`);
    return EXIT.ok;
  },
};

