// Why a file the spec names was not read (pure): the I/O twin reports what it met as data, and this turns it into the
// diagnostic on the spec line that names the file. Messages carry names and link targets, never a byte of file content.
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';

/** Per-file read limit for spec inputs (the spec, the inventory, each overlay file). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** Limit on everything one spec pulls in, overlay folders included. */
export const MAX_TOTAL_INPUT_BYTES = 256 * 1024 * 1024;
/** Limit on the entries listed in the site overlay folders of one spec. */
export const MAX_OVERLAY_ENTRIES = 100_000;

export type InputProblem =
  /** The path leaves the spec folder as written (absolute elsewhere, or `..`), or through the symlink `link` -> `target`. */
  | { readonly kind: 'outside'; readonly path: string; readonly link?: string; readonly target?: string }
  /** Not a regular file (`what`: "a directory", "a FIFO"...), where one was needed or inside an overlay folder. */
  | { readonly kind: 'not-regular'; readonly path: string; readonly what: string }
  | { readonly kind: 'too-large'; readonly path: string; readonly limit: number }
  /** Too many entries in the overlay folders, or too many bytes pulled in altogether. */
  | { readonly kind: 'too-many'; readonly path: string; readonly limit: number; readonly unit: 'entries' | 'bytes' }
  | { readonly kind: 'loop'; readonly path: string }
  /** The system refused (EACCES, EIO...): only the error code is kept. */
  | { readonly kind: 'unreadable'; readonly path: string; readonly code: string };

/** What needed the file: the inventory, a site overlay's folder, or an entry inside that folder. */
export type InputSubject = { readonly kind: 'inventory' } | { readonly kind: 'overlay'; readonly name: string } | { readonly kind: 'overlay-entry'; readonly name: string };

const MIB = 1024 * 1024;
const size = (n: number): string => (n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`);

function subjectText(s: InputSubject, path: string): string {
  if (s.kind === 'inventory') return `inventory "${path}"`;
  if (s.kind === 'overlay') return `the folder "${path}" of site overlay "${s.name}"`;
  return `"${path}" in site overlay "${s.name}"`;
}

const OUTSIDE_HINT: Record<InputSubject['kind'], string> = {
  inventory: 'keep the inventory CSV in the spec folder (or below it) and name it relative to the spec, e.g. inventory: nodes.csv',
  overlay: 'keep the overlay folder in the spec folder (or below it), e.g. overlays/<name>, and name it relative to the spec',
  'overlay-entry': 'keep the overlay folder in the spec folder (or below it), e.g. overlays/<name>, and name it relative to the spec',
};

/** The diagnostic for one input problem, located at the spec value that names the input. */
export function inputProblemDiagnostic(at: SourceRef, subject: InputSubject, p: InputProblem): Diagnostic {
  const what = subjectText(subject, p.path);
  switch (p.kind) {
    case 'outside':
      return diagnosticAt(
        at,
        'paths/outside-spec-folder',
        'error',
        p.link === undefined ? `${what} is outside the spec folder; herd reads only files inside it` : `${what} leads through the symlink ${p.link} to ${p.target ?? '?'}, outside the spec folder; herd does not follow it`,
        OUTSIDE_HINT[subject.kind],
      );
    case 'not-regular':
      return diagnosticAt(
        at,
        'paths/unreadable-input',
        'error',
        subject.kind === 'overlay-entry' ? `${what} is ${p.what}; an overlay folder holds only regular files, directories and symlinks` : `${what} is ${p.what}, not a regular file`,
        subject.kind === 'overlay-entry' ? 'remove it from the overlay folder: herd never opens FIFOs, sockets or devices' : 'name a regular file inside the spec folder',
      );
    case 'too-large':
      return diagnosticAt(at, 'paths/unreadable-input', 'error', `${what} is larger than ${size(p.limit)}; herd does not read it`, 'check that the spec names the right file');
    case 'too-many':
      return diagnosticAt(
        at,
        'paths/unreadable-input',
        'error',
        p.unit === 'entries' ? `${what}: the site overlay folders hold more than ${p.limit} entries; herd stopped listing them` : `${what}: the spec's inputs add up to more than ${size(p.limit)}; herd stopped reading them`,
        'check that the overlay source names the right folder',
      );
    case 'loop':
      return diagnosticAt(at, 'paths/unreadable-input', 'error', `${what} has too many levels of symlinks`, 'point the symlink at the file itself');
    case 'unreadable':
      return diagnosticAt(at, 'paths/unreadable-input', 'error', `${what} cannot be read (${p.code})`, 'check its permissions');
  }
}
