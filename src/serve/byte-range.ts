// The HTTP Range header as warewulfd answers it through Go's http.ServeContent (pure): one range gives 206, none that overlaps 416.

/** What to send for a file of `size` bytes given the request's Range header. */
export type RangeAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly length: number }
  /** 416. `contentRange` is set only when the ranges were well formed but none overlapped the file (Go's errNoOverlap). */
  | { readonly kind: 'unsatisfiable'; readonly message: string; readonly contentRange?: string };

const INVALID = { kind: 'unsatisfiable', message: 'invalid range' } as const;
const DIGITS = /^\d+$/;

/**
 * Go's net/http parseRange and the choice serveContent makes from it: a header not starting `bytes=` or a malformed range is
 * a 416 without Content-Range; ranges that all start past the end are a 416 with `bytes *\/size` (a 200 for an empty file);
 * several ranges are answered with the whole file (Go sends multipart/byteranges there: herd does not, see the report).
 */
export function answerRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined || header === '') return { kind: 'full' };
  if (!header.startsWith('bytes=')) return INVALID;
  const ranges: { start: number; length: number }[] = [];
  let noOverlap = false;
  for (const raw of header.slice('bytes='.length).split(',')) {
    const ra = raw.trim();
    if (ra === '') continue;
    const dash = ra.indexOf('-');
    if (dash < 0) return INVALID;
    const start = ra.slice(0, dash).trim();
    const end = ra.slice(dash + 1).trim();
    if (start === '') {
      // A suffix range: the last `end` bytes.
      if (!DIGITS.test(end)) return INVALID;
      const n = Math.min(Number(end), size);
      ranges.push({ start: size - n, length: n });
      continue;
    }
    if (!DIGITS.test(start)) return INVALID;
    const s = Number(start);
    if (s >= size) {
      noOverlap = true;
      continue;
    }
    if (end === '') {
      ranges.push({ start: s, length: size - s });
      continue;
    }
    if (!DIGITS.test(end) || s > Number(end)) return INVALID;
    const e = Math.min(Number(end), size - 1);
    ranges.push({ start: s, length: e - s + 1 });
  }
  if (ranges.length === 0 && noOverlap) {
    // Some clients send a Range with every request: an empty file answers 200 rather than 416, as Go does.
    if (size === 0) return { kind: 'full' };
    return { kind: 'unsatisfiable', message: 'invalid range: failed to overlap', contentRange: `bytes */${size}` };
  }
  if (ranges.length !== 1) return { kind: 'full' };
  const only = ranges[0]!;
  // More bytes asked for than the file has: Go ignores the header ("probably an attack, or a dumb client").
  if (only.length > size) return { kind: 'full' };
  return { kind: 'partial', start: only.start, length: only.length };
}

/** The Content-Range value of a partial answer. */
export const contentRangeOf = (start: number, length: number, size: number): string => `bytes ${start}-${start + length - 1}/${size}`;
