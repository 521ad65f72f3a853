// Atomic file replacement (I/O): write a temp file in the target's directory, verify and fsync it, rename it over the target, fsync the directory.
// Every path is relative to a ConfinedDir (the target root), so no step follows a symlink out of it.
import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync } from 'node:fs';
import { posix } from 'node:path';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { writeAllSync, type ConfinedDir } from '../fs/confined-dir.ts';
import { tempPathFor } from './paths.ts';

export interface StageSource {
  readonly bytes?: Uint8Array;
  readonly produce?: () => AsyncIterable<Uint8Array>;
  readonly sha256: string;
  readonly size: number;
}

export interface StageOptions {
  readonly mode: number;
  /** chown the temp file before rename; undefined leaves the owner as the writing user. */
  readonly owner?: { uid: number; gid: number };
  /** Called after every chunk of a produced (streamed) artifact: a test hook for killing mid-write. */
  readonly onChunk?: () => Promise<void> | void;
  /** false skips fsync: only for benchmarks that build throwaway trees. */
  readonly fsync?: boolean;
}


/**
 * Write `source` to the temp file beside `target`, hashing as it goes; mode and owner are set on the temp file, so the rename publishes them at once.
 * Throws a HerdFailure (and removes the temp file) when the bytes do not hash to `source.sha256`: nothing is renamed on a mismatch.
 * Returns the temp path; commitStaged renames it.
 */
export async function stageFile(dir: ConfinedDir, target: string, source: StageSource, options: StageOptions): Promise<string> {
  const temp = tempPathFor(target);
  // A leftover temp of a crashed apply may carry another mode; start afresh at 0600 so a secret is never readable by others, even half-written.
  // Exclusive create without following symlinks: a symlink planted at the temp name is removed, never written through.
  dir.unlink(temp);
  const fd = dir.createExclusive(temp, 0o600);
  let closed = false;
  try {
    const hash = createHash('sha256');
    let size = 0;
    if (source.bytes) {
      hash.update(source.bytes);
      writeAllSync(fd, source.bytes);
      size = source.bytes.length;
    } else if (source.produce) {
      for await (const chunk of source.produce()) {
        hash.update(chunk);
        writeAllSync(fd, chunk);
        size += chunk.length;
        await options.onChunk?.();
      }
    } else {
      throw herdFailure('state/artifact-unavailable', `${target}: the artifact has neither bytes nor a producer`, 'this is a compiler bug; please report it');
    }
    const sha = hash.digest('hex');
    if (sha !== source.sha256 || size !== source.size) {
      throw herdFailure(
        'state/artifact-hash-mismatch',
        `${target}: produced ${size} bytes with sha256 ${sha}, but the plan expects ${source.size} bytes with sha256 ${source.sha256}`,
        'the artifact is not reproducible; nothing was renamed into place. Please report it with the spec',
      );
    }
    fchmodSync(fd, options.mode);
    if (options.owner) fchownSync(fd, options.owner.uid, options.owner.gid);
    if (options.fsync !== false) fsyncSync(fd);
    closeSync(fd);
    closed = true;
    return temp;
  } catch (e) {
    if (!closed) closeSync(fd);
    dir.unlink(temp);
    throw e;
  }
}

/** Publish a staged temp file: rename is atomic, so readers see the old file or the new one, never a mix. */
export function commitStaged(dir: ConfinedDir, temp: string, target: string): void {
  dir.rename(temp, target);
}

/** Stage, rename and fsync the directory in one go: for herd's own state files. */
export async function writeFileAtomic(dir: ConfinedDir, target: string, bytes: Uint8Array, mode = 0o644, fsync = true): Promise<void> {
  const source = { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  const temp = await stageFile(dir, target, source, { mode, fsync });
  commitStaged(dir, temp, target);
  if (fsync) dir.fsyncDir(posix.dirname(target));
}
