// herd's own unfinished temporary folders (I/O): tracked while they exist so an interrupted run can remove them, and swept when a dead run left some behind.
import { rmSync } from 'node:fs';
import { ConfinedDir } from './confined-dir.ts';

/** Tracked temporaries: a path removed by path, or a remover that goes through the ConfinedDir that made the temporary. */
const live = new Map<object, { shown: string; remove: () => void }>();

/**
 * Remember a temporary this process made; the returned function forgets it (call it once it is renamed or removed).
 * Pass `remove` when the temporary lives below a ConfinedDir (a `--out` folder): the interrupt then removes it through the
 * same descriptors instead of by path, so a parent swapped for a symlink meanwhile cannot redirect the removal.
 */
export function trackTemp(path: string, remove: () => void = () => rmSync(path, { recursive: true, force: true })): () => void {
  const token = {};
  live.set(token, { shown: path, remove });
  return () => {
    live.delete(token);
  };
}

/**
 * Remove every tracked temporary path, synchronously: this runs from a signal handler, just before the process exits,
 * when no await would ever resume. Returns the paths removed.
 */
export function removeTrackedTemps(): string[] {
  const removed: string[] = [];
  for (const t of live.values()) {
    try {
      t.remove();
      removed.push(t.shown);
    } catch {
      // Best effort: the process is going away; a leftover is swept by the next build (sweepStaleTemps).
    }
  }
  live.clear();
  return removed;
}

/** True when a process with this id exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

const TEMP_RE = /\.tmp-(\d+)$/;

/** A `<name>.tmp-<pid>` entry left by a run that is gone (never this process's own). */
export function isStaleTemp(name: string, alive: (pid: number) => boolean = pidAlive): boolean {
  const m = TEMP_RE.exec(name);
  return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
}

/**
 * Remove the `<name>.tmp-<pid>` entries of `dir` whose process is gone (killed with SIGKILL, power loss): without this they
 * stay in the build cache forever. A live pid's entry is left alone, since another herd may be building into it right now.
 * Returns the names removed; a missing `dir` is simply nothing to sweep.
 */
export function sweepStaleTemps(dir: string, alive: (pid: number) => boolean = pidAlive): string[] {
  let confined: ConfinedDir;
  try {
    confined = ConfinedDir.open(dir, { what: 'build cache folder' });
  } catch {
    return []; // missing (nothing to sweep), or not a folder herd may use: the build reports that itself
  }
  const removed: string[] = [];
  try {
    for (const e of confined.readdir('') ?? []) {
      if (!isStaleTemp(e.name, alive)) continue;
      try {
        // Through the folder's descriptors: a leftover that is a symlink is unlinked, never followed.
        if (e.isDirectory()) confined.removeTree(e.name);
        else confined.unlink(e.name);
        removed.push(e.name);
      } catch {
        // Not ours to remove after all (permissions): leave it.
      }
    }
  } finally {
    confined.close();
  }
  return removed;
}
