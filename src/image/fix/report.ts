// Problems and change reports of the image fixes and of archive verification (pure types and helpers).
//
// Problems are data, not thrown errors: the build collects them from every step, and the caller maps `field`/`key`
// to a position in the spec (images.<name>.<field>[.<key>]) when it turns them into diagnostics.

export type ImageProblemCode =
  | 'image/no-kernel'
  | 'image/kernel-version'
  | 'image/kernel-copy'
  | 'image/pin-collision'
  | 'image/pin-shared-id'
  | 'image/pin-missing-account'
  | 'image/unknown-owner'
  | 'image/unknown-group'
  | 'image/file-conflict'
  | 'image/bad-file'
  | 'image/bad-exclude'
  | 'image/missing-program'
  | 'image/missing-driver'
  | 'image/pin-not-applied'
  | 'image/too-big-for-ram'
  | 'image/size-over-declared'
  | 'image/archive-bad-entry'
  | 'image/xattrs-dropped';

export type ImageProblemField = 'kernel' | 'pins' | 'files' | 'requires' | 'size' | 'exclude' | 'source';

export interface ImageProblem {
  readonly code: ImageProblemCode;
  readonly message: string;
  readonly hint: string;
  /** The image spec field this problem belongs to, when one does. */
  readonly field?: ImageProblemField;
  /** Within `field`: a pinned account name, a file path, a program, a pattern. */
  readonly key?: string;
}

/** What a fix returns: what it changed (for the build summary) and what stops the build. */
export interface FixResult<R> {
  readonly report: R;
  readonly problems: readonly ImageProblem[];
}

export function problem(code: ImageProblemCode, message: string, hint: string, field?: ImageProblemField, key?: string): ImageProblem {
  return { code, message, hint, ...(field !== undefined ? { field } : {}), ...(key !== undefined ? { key } : {}) };
}

const MIB = 1024 * 1024;

/** Human size with binary units, one decimal above 1 KiB: `3.4 GiB`, `512 B`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < MIB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MIB) return `${(n / MIB).toFixed(1)} MiB`;
  return `${(n / (1024 * MIB)).toFixed(1)} GiB`;
}

/** `a, b and 3 more`: bounded lists in messages (a pattern can match thousands of paths). */
export function listSome(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
