// Go's path/filepath.Match on Unix (pure): the pattern language of Warewulf's excludes file and kernel search globs.
//
// Semantics (Go ≥ 1.16, which Warewulf 4.6 is built with): `*` matches any run of non-'/' characters, `?` one
// non-'/' character, `[...]` / `[^...]` a class of characters and ranges, `\` escapes; the whole name must match.
// A malformed pattern is an error however the name compares, because Go checks the rest of the pattern before it
// reports "no match". Warewulf drops that error (`ignored, _ := filepath.Match(...)`), so a malformed exclude
// silently matches nothing; `checkGoPattern` lets herd say so instead.
// Works on code points where Go works on bytes (literals) and runes (`?`, classes): the same on valid UTF-8, except
// that Go's `*` may also resume inside a multi-byte character, where a following `?` then eats one stray byte. That
// can change the answer only for `*?` patterns against non-ASCII names; herd resumes at character boundaries.

export class GoPatternError extends Error {}

const BAD = 'syntax error in pattern';

/** Whether `name` matches `pattern`; throws GoPatternError for a malformed pattern (as Go returns ErrBadPattern). */
export function goMatch(pattern: string, name: string): boolean {
  let p = Array.from(pattern);
  let s = Array.from(name);
  pattern: while (p.length > 0) {
    const { star, chunk, rest } = scanChunk(p);
    p = rest;
    if (star && chunk.length === 0) return !s.includes('/');
    const here = matchChunk(chunk, s);
    if (here !== undefined && (here.length === 0 || p.length > 0)) {
      s = here;
      continue;
    }
    if (star) {
      for (let i = 0; i < s.length && s[i] !== '/'; i++) {
        const t = matchChunk(chunk, s.slice(i + 1));
        if (t !== undefined) {
          if (p.length === 0 && t.length > 0) continue;
          s = t;
          continue pattern;
        }
      }
    }
    // Go validates the rest of the pattern before it answers "no match".
    while (p.length > 0) {
      const next = scanChunk(p);
      p = next.rest;
      matchChunk(next.chunk, []);
    }
    return false;
  }
  return s.length === 0;
}

/** Undefined when the pattern is well formed, else Go's error text. */
export function checkGoPattern(pattern: string): string | undefined {
  try {
    let p = Array.from(pattern);
    while (p.length > 0) {
      const next = scanChunk(p);
      p = next.rest;
      matchChunk(next.chunk, []);
    }
    return undefined;
  } catch (e) {
    if (e instanceof GoPatternError) return e.message;
    throw e;
  }
}

/** Next run of single-character operators, with whether stars preceded it. */
function scanChunk(p: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let i = 0;
  while (i < p.length && p[i] === '*') i++;
  const star = i > 0;
  let j = i;
  let inRange = false;
  scan: for (; j < p.length; j++) {
    switch (p[j]) {
      case '\\':
        if (j + 1 < p.length) j++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(i, j), rest: p.slice(j) };
}

/**
 * Match a chunk at the start of `s`: the rest of `s`, or undefined. After a mismatch it keeps parsing the chunk
 * (reading no more of `s`) so that a malformed chunk always throws.
 */
function matchChunk(chunk: string[], s: string[]): string[] | undefined {
  let failed = false;
  let c = 0;
  let at = 0;
  while (c < chunk.length) {
    if (!failed && at >= s.length) failed = true;
    const ch = chunk[c] as string;
    if (ch === '[') {
      const r = failed ? undefined : s[at++];
      c++;
      let negated = false;
      if (chunk[c] === '^') {
        negated = true;
        c++;
      }
      let match = false;
      let n = 0;
      for (;;) {
        if (chunk[c] === ']' && n > 0) {
          c++;
          break;
        }
        const lo = getEsc(chunk, c);
        c = lo.next;
        let hi = lo.ch;
        if (chunk[c] === '-') {
          const h = getEsc(chunk, c + 1);
          c = h.next;
          hi = h.ch;
        }
        if (r !== undefined && cp(lo.ch) <= cp(r) && cp(r) <= cp(hi)) match = true;
        n++;
      }
      if (match === negated) failed = true;
      continue;
    }
    if (ch === '?') {
      if (!failed) {
        if (s[at] === '/') failed = true;
        at++;
      }
      c++;
      continue;
    }
    let lit = ch;
    if (ch === '\\') {
      c++;
      if (c >= chunk.length) throw new GoPatternError(BAD);
      lit = chunk[c] as string;
    }
    if (!failed) {
      if (lit !== s[at]) failed = true;
      at++;
    }
    c++;
  }
  return failed ? undefined : s.slice(at);
}

/** A possibly escaped character of a class; the chunk must go on after it (a class needs its `]`). */
function getEsc(chunk: string[], at: number): { ch: string; next: number } {
  let c = at;
  const first = chunk[c];
  if (first === undefined || first === '-' || first === ']') throw new GoPatternError(BAD);
  if (first === '\\') {
    c++;
    if (c >= chunk.length) throw new GoPatternError(BAD);
  }
  const ch = chunk[c] as string;
  c++;
  if (c >= chunk.length) throw new GoPatternError(BAD);
  return { ch, next: c };
}

const cp = (ch: string): number => ch.codePointAt(0) as number;
