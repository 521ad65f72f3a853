// Typed errors for reading images and applying layers (pure): what is wrong, in which file, and what to do about it.
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { ImageProblem } from '../fix/report.ts';

export type ImageErrorCode =
  | 'bad-source-ref'
  | 'outside-spec-folder'
  | 'source-changed'
  | 'too-big'
  | 'not-found'
  | 'bad-layout'
  | 'digest-mismatch'
  | 'no-matching-manifest'
  | 'unsupported'
  | 'bad-tar'
  | 'bad-layer-entry'
  | 'io';

/** Thrown by src/image/source and src/image/tree; callers render it with imageErrorDiagnostic, never as a stack trace. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  readonly code: ImageErrorCode;
  /** The file (or archive member, `archive.tar!member`) the problem is in. */
  readonly file: string | undefined;
  readonly hint: string | undefined;
  /** For `too-big`: the problems the late size check would report, located at the spec setting by the caller. */
  readonly problems: readonly ImageProblem[];

  constructor(code: ImageErrorCode, message: string, opts: { file?: string; hint?: string; cause?: unknown; problems?: readonly ImageProblem[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.file = opts.file;
    this.hint = opts.hint;
    this.problems = opts.problems ?? [];
  }
}

export function isImageError(e: unknown): e is ImageError {
  return e instanceof ImageError;
}

/** The diagnostic shown to the user for an image error; the rule is `image/<code>`. */
export function imageErrorDiagnostic(e: ImageError): Diagnostic {
  const d: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = { rule: `image/${e.code}`, severity: 'error', message: e.message };
  if (e.hint !== undefined) d.hint = e.hint;
  if (e.file !== undefined) d.file = e.file;
  return d;
}

/** Wrap a Node I/O error (ENOENT, EACCES...) into an ImageError naming the file; ImageErrors pass through. */
export function ioError(e: unknown, file: string, doing: string): ImageError {
  if (isImageError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return new ImageError('not-found', `${file} does not exist (while ${doing})`, { file, cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new ImageError('io', `permission denied reading ${file} (while ${doing})`, { file, hint: 'Make the file readable by the user running herd.', cause: e });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new ImageError('io', `${doing}: ${file}: ${msg}`, { file, cause: e });
}

/** A source file or folder that is no longer what the walk listed: herd never packs a file swapped in mid-build. */
export function sourceChanged(where: string, why: string): ImageError {
  return new ImageError('source-changed', `${where} changed while reading the image source: ${why}`, {
    file: where,
    hint: 'Do not modify the source while herd builds from it; build again once it is settled.',
  });
}
