// I/O twin of checkSpec: finds the spec file, reads it and everything it references, then delegates to the pure core.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { checkSpec, type SpecCheck } from './check-spec.ts';

export interface SpecOnDisk extends SpecCheck {
  /** Absolute path of the spec file. */
  readonly specPath: string;
  readonly specDir: string;
  /** The spec path as shown to the user (relative to cwd). */
  readonly displayPath: string;
  /** sha256 over the spec and every file it pulled in, in a fixed order. */
  readonly specHash: string;
  /** Every input file read (absolute path -> bytes), for hashing and for later stages (overlay templates). */
  readonly inputs: ReadonlyMap<string, Uint8Array>;
}

/** `path` may be a spec file or a folder holding cluster.yaml. Throws a HerdFailure when it cannot be read. */
export function locateSpec(path: string, cwd: string): string {
  const abs = resolve(cwd, path);
  if (!existsSync(abs)) throw herdFailure('cli/spec-not-found', `no spec at ${path}`, 'pass a cluster.yaml or the folder holding it, e.g. herd validate clusters/lab');
  if (statSync(abs).isDirectory()) {
    const f = join(abs, 'cluster.yaml');
    if (!existsSync(f)) throw herdFailure('cli/spec-not-found', `${path} has no cluster.yaml`, 'a cluster folder holds its spec as cluster.yaml');
    return f;
  }
  return abs;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** The text of every file a spec read, keyed by the path diagnostics name it with (the spec's display path, else relative to cwd), for code frames. */
export function sourceTexts(spec: SpecOnDisk, cwd: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const [abs, bytes] of spec.inputs) {
    const rel = abs === spec.specPath ? spec.displayPath : abs.startsWith(cwd + '/') ? abs.slice(cwd.length + 1) : abs;
    sources.set(rel, Buffer.from(bytes).toString('utf8'));
  }
  return sources;
}

export function loadSpecFromDisk(path: string, cwd: string): SpecOnDisk {
  const specPath = locateSpec(path, cwd);
  const specDir = resolve(specPath, '..');
  const displayPath = relative(cwd, specPath) || specPath;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(specPath);
  } catch (e) {
    throw herdFailure('cli/spec-unreadable', `cannot read ${displayPath}: ${(e as Error).message}`, 'check the path and its permissions');
  }
  const inputs = new Map<string, Uint8Array>([[specPath, bytes]]);
  const result = checkSpec(displayPath, bytes, (paths) => {
    const overlayFiles: Record<string, string[] | undefined> = {};
    for (const [name, rel] of Object.entries(paths.overlays)) {
      const dir = resolve(specDir, rel);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        overlayFiles[name] = undefined;
        continue;
      }
      const files = listFiles(dir);
      overlayFiles[name] = files;
      for (const f of files) inputs.set(join(dir, f), readFileSync(join(dir, f)));
    }
    if (!paths.inventory) return { overlayFiles };
    const invPath = resolve(specDir, paths.inventory);
    const invDisplay = relative(cwd, invPath) || invPath;
    let text: string | undefined;
    if (existsSync(invPath)) {
      const b = readFileSync(invPath);
      inputs.set(invPath, b);
      text = b.toString('utf8');
    }
    return { overlayFiles, inventory: { file: invDisplay, text } };
  });
  const h = createHash('sha256');
  for (const [p, b] of [...inputs].sort(([a], [b2]) => (a < b2 ? -1 : 1))) {
    h.update(relative(specDir, p)).update('\0').update(String(b.length)).update('\0').update(b);
  }
  return { ...result, specPath, specDir, displayPath, specHash: h.digest('hex'), inputs };
}
