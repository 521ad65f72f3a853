// Where herd keeps things in a target root, and which artifact paths are safe to write there (pure path arithmetic).
import { basename, dirname, join, sep } from 'node:path';
import { posix } from 'node:path';

import { STATE_DIR, TEMP_MARK } from '../artifacts/artifact-path.ts';

export { isTempName, STATE_DIR, TEMP_MARK, unsafeArtifactPath } from '../artifacts/artifact-path.ts';

export const stateDirOf = (root: string): string => join(root, STATE_DIR);
export const manifestFileOf = (root: string): string => join(root, STATE_DIR, 'state.json');
export const lockFileOf = (root: string): string => join(root, STATE_DIR, 'lock');
export const pendingFileOf = (root: string): string => join(root, STATE_DIR, 'pending.json');
export const contentsDirOf = (root: string): string => join(root, STATE_DIR, 'contents');

/** The same places relative to the root, for the confined target directory. */
export const MANIFEST_REL = `${STATE_DIR}/state.json`;
export const LOCK_REL = `${STATE_DIR}/lock`;
export const PENDING_REL = `${STATE_DIR}/pending.json`;
export const CONTENTS_REL = `${STATE_DIR}/contents`;
/** Nodes awaiting a reboot (herd rollout); see rebootRecordSchema. */
export const REBOOTS_REL = `${STATE_DIR}/reboots.json`;

/** The default target for a spec: a local folder beside it, so a demo never touches /srv or /etc. */
export const defaultRootFor = (specDir: string, cluster: string): string => join(specDir, '.herd', cluster, 'root');

/** The temp file beside `target`: same directory, so rename is atomic; one fixed name per target, so a crashed apply leaves at most one. */
export function tempPathFor(target: string): string {
  const base = basename(target);
  const name = base.length > 200 ? `.${base.slice(0, 200)}~${TEMP_MARK}` : `.${base}${TEMP_MARK}`;
  return target.startsWith('/') ? join(dirname(target), name) : posix.join(posix.dirname(target), name);
}

/** Absolute path of an artifact in a root; callers check unsafeArtifactPath first. */
export const targetPathOf = (root: string, rel: string): string => join(root, ...rel.split('/'));

export const relativeTo = (root: string, abs: string): string => abs.slice(root.length + (root.endsWith(sep) ? 0 : 1)).split(sep).join('/');
