// Which relative paths herd may write in a target root (pure): the rule artifacts, the state manifest and the journal all obey.

/** State lives in the target itself, so a copied or restored root carries its own record. */
export const STATE_DIR = 'var/lib/herd';

/** Marks herd's temp files; nothing herd plans ever has this in its name. */
export const TEMP_MARK = '.herd-tmp';

export const isTempName = (name: string): boolean => name.startsWith('.') && name.endsWith(TEMP_MARK);

/** Why a path must not be written in a target root, or undefined when it is a plain, normalised relative path outside herd's state directory. */
export function unsafeArtifactPath(path: string): string | undefined {
  if (path === '' || path.startsWith('/')) return 'must be relative to the target root';
  if (path.includes('\0') || path.includes('\\')) return 'contains a NUL or backslash';
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return 'has an empty, "." or ".." component';
  if (path === STATE_DIR || path.startsWith(STATE_DIR + '/')) return `is inside herd's own state directory ${STATE_DIR}`;
  if (isTempName(parts[parts.length - 1]!)) return `ends in ${TEMP_MARK}, which herd reserves for temp files`;
  return undefined;
}
