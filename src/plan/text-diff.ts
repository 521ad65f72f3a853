// Unified text diffs for config artifacts (pure), via the `diff` package; binary or oversized content gets no diff.
import { createTwoFilesPatch } from 'diff';
import { hasSecretLines, redactSecrets } from '../artifacts/secret-lines.ts';

/** Above this, a diff is more noise than help in a plan; the hashes still show the change. */
export const MAX_DIFF_BYTES = 1024 * 1024;

/**
 * Above this many inserted plus deleted lines, no diff is shown. Besides readability, it bounds the work: Myers' diff costs
 * O(D^2) and more for D edits, so two unrelated 1 MiB files (D in the hundreds of thousands) would stall a plan for hours.
 * A count, not a timeout, so the same inputs always give the same plan.
 */
export const MAX_DIFF_EDITS = 4000;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The text of `bytes` when it is UTF-8 without NUL bytes and small enough to diff; undefined otherwise. */
export function diffableText(bytes: Uint8Array): string | undefined {
  if (bytes.length > MAX_DIFF_BYTES || bytes.includes(0)) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Unified diff (3 lines of context) from `before` to `after`; an absent side is the empty file.
 * Returns undefined when either side is not diffable text, when the texts are equal, or when they differ in more than MAX_DIFF_EDITS lines.
 */
export function unifiedDiff(path: string, before: Uint8Array | undefined, after: Uint8Array | undefined, labels: readonly [string, string]): string | undefined {
  const a0 = before === undefined ? '' : diffableText(before);
  const b0 = after === undefined ? '' : diffableText(after);
  if (a0 === undefined || b0 === undefined || a0 === b0) return undefined;
  // IPMI passwords (nodes.conf, wwinit's config) are shown by hash only, on both sides.
  const [a, b] = hasSecretLines(path) ? [redactSecrets(path, a0), redactSecrets(path, b0)] : [a0, b0];
  if (a === b) return undefined;
  return createTwoFilesPatch(before === undefined ? '/dev/null' : `a/${path}`, after === undefined ? '/dev/null' : `b/${path}`, a, b, labels[0], labels[1], {
    context: 3,
    maxEditLength: MAX_DIFF_EDITS,
    headerOptions: { includeIndex: false, includeUnderline: false, includeFileHeaders: true },
  });
}
