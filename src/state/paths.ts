// Where herd keeps things in a target root, and which artifact paths are safe to write there (pure path arithmetic).
import { basename, dirname, join, sep } from 'node:path';

/** State lives in the target itself, so a copied or restored root carries its own record. */
export const STATE_DIR = 'var/lib/herd';

export const stateDirOf = (root: string): string => join(root, STATE_DIR);
export const manifestFileOf = (root: string): string => join(root, STATE_DIR, 'state.json');
export const lockFileOf = (root: string): string => join(root, STATE_DIR, 'lock');
export const pendingFileOf = (root: string): string => join(root, STATE_DIR, 'pending.json');
export const contentsDirOf = (root: string): string => join(root, STATE_DIR, 'contents');

/** The default target for a spec: a local folder beside it, so a demo never touches /srv or /etc. */
export const defaultRootFor = (specDir: string, cluster: string): string => join(specDir, '.herd', cluster, 'root');

/** Marks herd's temp files; nothing herd plans ever has this in its name. */
export const TEMP_MARK = '.herd-tmp';

/** The temp file beside `target`: same directory, so rename is atomic; one fixed name per target, so a crashed apply leaves at most one. */
export function tempPathFor(target: string): string {
  const base = basename(target);
  const name = base.length > 200 ? `.${base.slice(0, 200)}~${TEMP_MARK}` : `.${base}${TEMP_MARK}`;
  return join(dirname(target), name);
}

export const isTempName = (name: string): boolean => name.startsWith('.') && name.endsWith(TEMP_MARK);

/** Why an artifact path must not be written, or undefined when it is a plain relative path outside herd's state directory. */
export function unsafeArtifactPath(path: string): string | undefined {
  if (path === '' || path.startsWith('/')) return 'must be relative to the target root';
  if (path.includes('\0') || path.includes('\\')) return 'contains a NUL or backslash';
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return 'has an empty, "." or ".." component';
  if (path === STATE_DIR || path.startsWith(STATE_DIR + '/')) return `is inside herd's own state directory ${STATE_DIR}`;
  if (isTempName(parts[parts.length - 1]!)) return `ends in ${TEMP_MARK}, which herd reserves for temp files`;
  return undefined;
}

/** Absolute path of an artifact in a root; callers check unsafeArtifactPath first. */
export const targetPathOf = (root: string, rel: string): string => join(root, ...rel.split('/'));

export const relativeTo = (root: string, abs: string): string => abs.slice(root.length + (root.endsWith(sep) ? 0 : 1)).split(sep).join('/');
