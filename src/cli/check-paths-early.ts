// Paths the user named, checked before anything is compiled (I/O shell): a --root or --out that can never work fails at once, not after minutes of image builds.
import { accessSync, constants as C, lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir } from '../fs/confined-dir.ts';
import { openTargetDir } from '../state/target.ts';

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/** The real path of `abs`, or of its deepest existing ancestor when it does not exist yet (apply creates the rest). */
function existingPart(abs: string): string {
  let at = abs;
  for (;;) {
    try {
      lstatSync(at);
      return realpathSync(at);
    } catch (e) {
      const up = dirname(at);
      if ((errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') || up === at) return at;
      at = up;
    }
  }
}

function writable(path: string): string | undefined {
  try {
    accessSync(path, C.W_OK);
    return undefined;
  } catch (e) {
    return errno(e) === 'EROFS' ? 'is on a read-only filesystem' : errno(e) === 'EACCES' || errno(e) === 'EPERM' ? 'is not writable by you' : `cannot be written (${(e as Error).message})`;
  }
}

/**
 * An explicit --root: a kernel filesystem, a file, or a path through a file is refused (the same checks plan and apply make
 * when they open it, made before compiling); for apply, a root it could not write is refused too.
 */
export function checkRootEarly(root: string | undefined, cwd: string, forApply: boolean): void {
  if (root === undefined || root === '') return;
  const abs = resolve(cwd, root);
  openTargetDir(abs, false)?.close();
  if (!forApply) return;
  const place = existingPart(abs);
  const why = writable(place);
  if (why) throw herdFailure('state/unwritable', `cannot apply to the target root ${root}: ${place} ${why}`, 'run herd as a user who may write the target (on a head node: root), or pass --root a folder you can write');
}

/** plan --out FILE: its folder must exist, be a real folder one can write, and FILE must not be a folder or a special file. */
export function checkSavedPlanPathEarly(out: string | undefined, cwd: string): void {
  if (out === undefined) return;
  const abs = resolve(cwd, out);
  const shown = `--out ${out}`;
  const hint = 'choose a new file name in a folder you can write, e.g. --out plan.herd';
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(dirname(abs), { what: 'folder' });
  } catch (e) {
    throw herdFailure('cli/out-unsafe', `cannot write the saved plan to ${shown}: ${errno(e) === 'ENOENT' ? `${dirname(abs)} does not exist` : (e as Error).message}`, hint);
  }
  try {
    const st = dir.lstat(basename(abs));
    if (st && !st.isFile()) throw herdFailure('cli/out-unsafe', `${shown} exists and is not a regular file; herd never replaces it`, hint);
    const why = writable(dir.real);
    if (why) throw herdFailure('cli/out-unsafe', `cannot write the saved plan to ${shown}: ${dir.real} ${why}`, hint);
  } finally {
    dir.close();
  }
}
