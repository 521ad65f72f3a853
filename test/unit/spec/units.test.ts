// Slurm time strings and sizes: the forms slurm.conf(5) documents ("minutes", "minutes:seconds", "hours:minutes:seconds",
// "days-hours", "days-hours:minutes", "days-hours:minutes:seconds", UNLIMITED/INFINITE/-1), seconds rounded up to minutes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatMiB, parseSizeMiB, parseSlurmTime } from '../../../src/spec/units.ts';

describe('parseSlurmTime', () => {
  it.each([
    // A bare M:S is minutes and seconds: MaxTime=2:00 is two minutes, not two hours (the trap slurm/ambiguous-time warns about).
    ['2:00', 2, 'm:s', '00:02:00'],
    [120, 120, 'minutes', '02:00:00'],
    ['120', 120, 'minutes', '02:00:00'],
    ['2:00:00', 120, 'h:m:s', '02:00:00'],
    ['1-00:00:00', 1440, 'd-h:m:s', '1-00:00:00'],
    ['1-0', 1440, 'd-h', '1-00:00:00'],
    ['2-12:30', 2 * 1440 + 12 * 60 + 30, 'd-h:m', '2-12:30:00'],
    // Seconds round up to a whole minute, as slurmctld does.
    ['0:30', 1, 'm:s', '00:01:00'],
    ['1:01', 2, 'm:s', '00:02:00'],
    ['0:00:59', 1, 'h:m:s', '00:01:00'],
    ['90', 90, 'minutes', '01:30:00'],
    ['  45  ', 45, 'minutes', '00:45:00'],
    [0, 0, 'minutes', '00:00:00'],
  ] as const)('%j is %i minutes (%s)', (input, minutes, form, canonical) => {
    expect(parseSlurmTime(input)).toEqual({ ok: true, minutes, form, canonical });
  });

  it.each(['UNLIMITED', 'unlimited', 'INFINITE', '-1', -1])('%j means no limit', (input) => {
    expect(parseSlurmTime(input)).toEqual({ ok: true, minutes: 'UNLIMITED', canonical: 'UNLIMITED', form: 'unlimited' });
  });

  it.each(['2h', '1.5', '1:2:3:4', '', '   ', '-2', '1d', 'two', '1-2-3', ':30', '2:', '99999999999999'])('%j is not a Slurm time', (input) => {
    const t = parseSlurmTime(input);
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.reason).not.toBe('');
  });

  it('agrees with an independent minutes computation for every documented form', () => {
    const n = fc.integer({ min: 0, max: 400 });
    fc.assert(
      fc.property(n, n, n, n, fc.integer({ min: 0, max: 5 }), (d, h, m, s, form) => {
        const [text, minutes] = (
          [
            [`${m}`, m],
            [`${m}:${s}`, m + Math.ceil(s / 60)],
            [`${h}:${m}:${s}`, h * 60 + m + Math.ceil(s / 60)],
            [`${d}-${h}`, d * 1440 + h * 60],
            [`${d}-${h}:${m}`, d * 1440 + h * 60 + m],
            [`${d}-${h}:${m}:${s}`, d * 1440 + h * 60 + m + Math.ceil(s / 60)],
          ] as const
        )[form]!;
        const t = parseSlurmTime(text);
        expect(t.ok && t.minutes).toBe(minutes);
        if (t.ok) {
          // The canonical form must read back as the same number of minutes.
          const back = parseSlurmTime(t.canonical);
          expect(back.ok && back.minutes).toBe(minutes);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseSizeMiB / formatMiB', () => {
  it.each([
    ['6GiB', 6144],
    ['6G', 6144],
    ['6 GB', 6144],
    ['512MiB', 512],
    ['1.5TiB', 1.5 * 1024 * 1024],
    ['2048KiB', 2],
    ['1024', 1024],
    [3072, 3072],
    ['3gib', 3072],
  ] as const)('%j is %d MiB', (input, mib) => {
    expect(parseSizeMiB(input)).toBe(mib);
  });

  it.each(['6 gigs', 'GiB', '', '-1G', '1e3M', 'six'])('%j is not a size', (input) => {
    expect(parseSizeMiB(input)).toBeUndefined();
  });

  it.each([
    [6144, '6 GiB'],
    [3072, '3 GiB'],
    [1536, '1.5 GiB'],
    [512, '512 MiB'],
  ])('formats %d MiB as %s', (mib, text) => {
    expect(formatMiB(mib)).toBe(text);
  });
});
