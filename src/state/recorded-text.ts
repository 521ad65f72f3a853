// Text diffs for plans made against a state snapshot (I/O): the snapshot carries hashes only, but herd recorded the git commit of
// the spec each file was applied from. Where the pull request's clone has that commit, the spec is compiled as it was there (configs
// only, no images or overlays) and each text config whose bytes hash to exactly what the snapshot records on the target is used as
// the live text, so the review shows real line diffs. A file whose hash does not match (drift, another commit) stays hash-only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { sha256Hex, type ArtifactSet } from '../artifacts/artifact.ts';
import { isDiffable } from '../plan/plan-changes.ts';
import type { StateSnapshot } from '../plan/state-snapshot.ts';
import type { CompileOptions, CompileResult } from '../pipeline.ts';

// child_process loads only when a recorded text is read back (not on a plan whose state records none): start-up, issue 17.
const childProcess = (): typeof import('node:child_process') => process.getBuiltinModule('node:child_process');

/** At most this many distinct recorded commits are compiled for one plan. */
const MAX_COMMITS = 3;
/** A spec folder's archive larger than this is not extracted for diffs. */
const MAX_ARCHIVE = 256 * 1024 * 1024;

export interface RecordedTextInput {
  readonly specFile: string;
  readonly desired: ArtifactSet;
  readonly snapshot: StateSnapshot;
  readonly compile: (path: string, cwd: string, options: CompileOptions) => Promise<CompileResult>;
  readonly options: CompileOptions;
}

function git(cwd: string, args: string[], input?: Buffer): Buffer {
  return childProcess().execFileSync('git', ['-C', cwd, ...args], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'ignore'], maxBuffer: MAX_ARCHIVE, timeout: 60_000, ...(input ? { input } : {}) });
}

/**
 * The text each changing config had when it was applied, by path, verified by its sha256 against the snapshot; empty when the spec is
 * not in a git repository, the recorded commit is not in it (a shallow clone), or nothing matches. Diffs are advisory: never throws.
 */
export async function recordedTexts(input: RecordedTextInput): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>();
  const manifest = input.snapshot.manifest;
  if (!manifest) return found;
  const desired = new Map(input.desired.artifacts.map((a) => [a.path, a]));
  const commitOf = new Map(manifest.generations.map((g) => [g.generation, g.specCommit]));
  const wanted = new Map<string, string>();
  const commits = new Set<string>();
  for (const f of input.snapshot.files) {
    const d = desired.get(f.path);
    const m = manifest.entries.find((e) => e.path === f.path);
    if (f.type !== 'file' || !d || !m || !isDiffable(d) || f.sha256 === d.sha256 || f.sha256 !== m.sha256) continue;
    const commit = commitOf.get(m.generation);
    if (!commit || !/^[0-9a-f]{7,64}$/.test(commit)) continue;
    wanted.set(f.path, f.sha256!);
    if (commits.size < MAX_COMMITS) commits.add(commit);
  }
  if (wanted.size === 0) return found;
  let top: string;
  try {
    top = git(dirname(input.specFile), ['rev-parse', '--show-toplevel']).toString('utf8').trim();
  } catch {
    return found;
  }
  const specRel = relative(top, input.specFile);
  if (specRel.startsWith('..')) return found;
  const folderRel = dirname(specRel).split(sep).join('/');
  for (const commit of commits) {
    const scratch = mkdtempSync(join(tmpdir(), 'herd-recorded-'));
    try {
      git(top, ['cat-file', '-e', `${commit}^{commit}`]);
      const tar = git(top, ['archive', '--format=tar', commit, '--', folderRel === '' ? '.' : folderRel]);
      childProcess().execFileSync('tar', ['-x', '--no-same-owner', '-C', scratch], { input: tar, stdio: ['pipe', 'ignore', 'ignore'], timeout: 60_000 });
      const old = await input.compile(join(scratch, specRel), scratch, { ...input.options, images: false });
      for (const a of old.artifacts?.artifacts ?? []) {
        const sha = wanted.get(a.path);
        if (sha && a.bytes && !a.secret && !found.has(a.path) && sha256Hex(a.bytes) === sha) found.set(a.path, a.bytes);
      }
    } catch {
      // Not in this clone, or no longer compiles with this herd: those files keep hash-only changes.
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return found;
}
