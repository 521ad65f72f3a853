import { describe, expect, it } from 'vitest';
import { answerRange, contentRangeOf } from '../../../src/serve/byte-range.ts';

describe('Range answers as Go\'s http.ServeContent gives them', () => {
  it('sends the whole file without a Range header', () => {
    expect(answerRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(answerRange('', 100)).toEqual({ kind: 'full' });
  });

  it('sends one range as a 206 part, clamping its end to the file', () => {
    expect(answerRange('bytes=10-19', 100)).toEqual({ kind: 'partial', start: 10, length: 10 });
    expect(answerRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, length: 10 });
    expect(answerRange('bytes=-5', 100)).toEqual({ kind: 'partial', start: 95, length: 5 });
    expect(answerRange('bytes=-500', 100)).toEqual({ kind: 'partial', start: 0, length: 100 });
    expect(answerRange('bytes=50-5000', 100)).toEqual({ kind: 'partial', start: 50, length: 50 });
    expect(answerRange('bytes= 1 - 2 ', 100)).toEqual({ kind: 'partial', start: 1, length: 2 });
    expect(contentRangeOf(10, 10, 100)).toBe('bytes 10-19/100');
  });

  it('answers 416 with `bytes */size` when no range overlaps, and 416 without it for a malformed header', () => {
    expect(answerRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable', message: 'invalid range: failed to overlap', contentRange: 'bytes */100' });
    expect(answerRange('bytes=200-300', 100)).toMatchObject({ kind: 'unsatisfiable', contentRange: 'bytes */100' });
    for (const bad of ['lines=1-2', 'bytes=5', 'bytes=9-3', 'bytes=a-b', 'bytes=--1', 'bytes=-']) expect(answerRange(bad, 100), bad).toEqual({ kind: 'unsatisfiable', message: 'invalid range' });
  });

  it('serves an empty file whole even when asked for a range past its end', () => {
    expect(answerRange('bytes=0-', 0)).toEqual({ kind: 'full' });
  });

  it('answers several ranges with the whole file (Go sends multipart/byteranges there)', () => {
    expect(answerRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    // A range past the end among others is dropped; one usable range left is a plain 206.
    expect(answerRange('bytes=0-1,500-600', 100)).toEqual({ kind: 'partial', start: 0, length: 2 });
  });
});
