// The account databases /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow, parsed and rewritten byte for byte (pure).
//
// A database is kept as its lines: `split('\n')` and `join('\n')` give back the exact text, trailing newline (an
// empty last line), CRLF (the '\r' stays in the last field) and all. Lines that are not account entries (comments,
// blanks, NIS `+`/`-` lines, lines with too few fields) are kept verbatim and never touched. Entries keep their field
// count: only existing fields are ever changed.

export type AccountDbKind = 'passwd' | 'group' | 'shadow' | 'gshadow';

export type AccountLine = { readonly kind: 'entry'; fields: string[] } | { readonly kind: 'other'; readonly text: string };

export interface AccountDb {
  readonly kind: AccountDbKind;
  readonly lines: AccountLine[];
}

/** Where each database keeps what; `minFields` is the count a line needs before herd treats it as an entry. */
const LAYOUT: Record<AccountDbKind, { readonly minFields: number; readonly idField?: number; readonly newEntry: (name: string) => string[] }> = {
  passwd: { minFields: 4, idField: 2, newEntry: (n) => [n, 'x', '', '', '', '/', '/sbin/nologin'] },
  group: { minFields: 3, idField: 2, newEntry: (n) => [n, 'x', '', ''] },
  // A locked password and empty aging fields (no date: the output must not depend on when it was built).
  shadow: { minFields: 2, newEntry: (n) => [n, '!*', '', '', '', '', '', '', ''] },
  gshadow: { minFields: 2, newEntry: (n) => [n, '!', '', ''] },
};

export const ACCOUNT_FILES: Readonly<Record<AccountDbKind, string>> = { passwd: 'etc/passwd', group: 'etc/group', shadow: 'etc/shadow', gshadow: 'etc/gshadow' };

export function parseAccountDb(kind: AccountDbKind, text: string): AccountDb {
  const lines = text.split('\n').map((line): AccountLine => {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) return { kind: 'other', text: line };
    const fields = line.split(':');
    if (fields.length < LAYOUT[kind].minFields || fields[0] === '') return { kind: 'other', text: line };
    return { kind: 'entry', fields };
  });
  return { kind, lines };
}

export function serializeAccountDb(db: AccountDb): string {
  return db.lines.map((l) => (l.kind === 'entry' ? l.fields.join(':') : l.text)).join('\n');
}

export function accountEntries(db: AccountDb): string[][] {
  const out: string[][] = [];
  for (const l of db.lines) if (l.kind === 'entry') out.push(l.fields);
  return out;
}

/** The first entry of a name, the one getpwnam/getgrnam return. */
export function findAccount(db: AccountDb, name: string): string[] | undefined {
  for (const l of db.lines) if (l.kind === 'entry' && l.fields[0] === name) return l.fields;
  return undefined;
}

/** A decimal ID field as a number; undefined for anything else (empty, signs, spaces, overflow). */
export function parseId(field: string | undefined): number | undefined {
  if (field === undefined || !/^\d{1,10}$/.test(field)) return undefined;
  const n = Number(field);
  return n <= 0xffffffff ? n : undefined;
}

/** UID (passwd) or GID (group) of an entry. */
export function accountId(db: AccountDb, fields: readonly string[]): number | undefined {
  const at = LAYOUT[db.kind].idField;
  return at === undefined ? undefined : parseId(fields[at]);
}

/** Primary GID of a passwd entry. */
export function primaryGid(fields: readonly string[]): number | undefined {
  return parseId(fields[3]);
}

/** Name → ID of every entry, first entry of a name winning. */
export function idsByName(db: AccountDb): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of accountEntries(db)) {
    const id = accountId(db, f);
    if (id !== undefined && !out.has(f[0] as string)) out.set(f[0] as string, id);
  }
  return out;
}

/**
 * Append an entry for `name` (before the final empty line, so a file that ended in a newline still does).
 * Only shadow and gshadow get entries this way; passwd and group entries come from the image's packages.
 */
export function appendAccount(db: AccountDb, name: string): string[] {
  const fields = LAYOUT[db.kind].newEntry(name);
  const last = db.lines[db.lines.length - 1];
  const at = last !== undefined && last.kind === 'other' && last.text === '' ? db.lines.length - 1 : db.lines.length;
  db.lines.splice(at, 0, { kind: 'entry', fields });
  return fields;
}
