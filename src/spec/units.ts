// Sizes and Slurm time strings as values (pure).

const UNITS: Record<string, number> = {
  B: 1 / (1024 * 1024),
  K: 1 / 1024, KB: 1 / 1024, KIB: 1 / 1024,
  M: 1, MB: 1, MIB: 1,
  G: 1024, GB: 1024, GIB: 1024,
  T: 1024 * 1024, TB: 1024 * 1024, TIB: 1024 * 1024,
};

/** Size in MiB from `6GiB`, `512MiB`, `1.5T` (binary units, as RAM is sold) or a bare number of MiB. */
export function parseSizeMiB(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toUpperCase();
  const f = unit === '' ? 1 : UNITS[unit];
  if (f === undefined) return undefined;
  return Number(m[1]) * f;
}

export function formatMiB(mib: number): string {
  if (mib >= 1024 && Number.isInteger(mib / 1024)) return `${mib / 1024} GiB`;
  if (mib >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  return `${Math.round(mib)} MiB`;
}

export type SlurmTime =
  | { ok: true; minutes: number | 'UNLIMITED'; canonical: string; form: 'minutes' | 'm:s' | 'h:m:s' | 'd-h' | 'd-h:m' | 'd-h:m:s' | 'unlimited' }
  | { ok: false; reason: string };

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * Parse a Slurm time limit the way slurmctld does: a bare number is minutes; `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`;
 * -1, INFINITE and UNLIMITED mean no limit. Seconds round up to whole minutes. The canonical form herd writes is D-HH:MM:SS or HH:MM:SS.
 */
export function parseSlurmTime(v: string | number): SlurmTime {
  const s = String(v).trim();
  if (s === '') return { ok: false, reason: 'empty time' };
  if (/^(-1|INFINITE|UNLIMITED)$/i.test(s)) return { ok: true, minutes: 'UNLIMITED', canonical: 'UNLIMITED', form: 'unlimited' };
  let days = 0;
  let hours = 0;
  let mins = 0;
  let secs = 0;
  let form: Extract<SlurmTime, { ok: true }>['form'];
  let m: RegExpExecArray | null;
  if ((m = /^(\d+)$/.exec(s))) {
    mins = Number(m[1]);
    form = 'minutes';
  } else if ((m = /^(\d+):(\d+)$/.exec(s))) {
    mins = Number(m[1]);
    secs = Number(m[2]);
    form = 'm:s';
  } else if ((m = /^(\d+):(\d+):(\d+)$/.exec(s))) {
    hours = Number(m[1]);
    mins = Number(m[2]);
    secs = Number(m[3]);
    form = 'h:m:s';
  } else if ((m = /^(\d+)-(\d+)$/.exec(s))) {
    days = Number(m[1]);
    hours = Number(m[2]);
    form = 'd-h';
  } else if ((m = /^(\d+)-(\d+):(\d+)$/.exec(s))) {
    days = Number(m[1]);
    hours = Number(m[2]);
    mins = Number(m[3]);
    form = 'd-h:m';
  } else if ((m = /^(\d+)-(\d+):(\d+):(\d+)$/.exec(s))) {
    days = Number(m[1]);
    hours = Number(m[2]);
    mins = Number(m[3]);
    secs = Number(m[4]);
    form = 'd-h:m:s';
  } else {
    return { ok: false, reason: `"${s}" is not a Slurm time (use minutes, H:M:S, D-H:M:S or UNLIMITED; no unit suffixes or decimals)` };
  }
  const total = days * 1440 + hours * 60 + mins + Math.ceil(secs / 60);
  if (!Number.isSafeInteger(total) || total > 0x7ffffffe) return { ok: false, reason: `"${s}" is too large` };
  const d = Math.floor(total / 1440);
  const h = Math.floor((total % 1440) / 60);
  const mm = total % 60;
  const canonical = d > 0 ? `${d}-${two(h)}:${two(mm)}:00` : `${two(h)}:${two(mm)}:00`;
  return { ok: true, minutes: total, canonical, form };
}
