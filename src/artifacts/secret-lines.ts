// Secret values inside text files herd quotes (pure): nodes.conf's IPMI passwords and wwinit's WWIPMI_PASSWORD. Wherever such
// a text is shown (a plan's diffs, an import's code frames) each value is replaced by the start of its sha256, so a changed
// password still shows as a changed line and an unchanged one as none, without the password itself.
import { createHash } from 'node:crypto';

interface SecretLine {
  /** Files holding such values, by path (relative to the target root, or as a diagnostic names them). */
  readonly path: RegExp;
  /** A word the text must hold for any value to be there (a cheap test before the line scan). */
  readonly word: string;
  /** Each value (global): the key kept (group 1), the value hashed (group 2). */
  readonly value: RegExp;
}

const RULES: readonly SecretLine[] = [
  // nodes.conf (YAML, block or flow style): `password:` of an ipmi block, the only secret Warewulf 4.6 keeps there.
  { path: /(^|\/)nodes\.conf$/, word: 'password', value: /(\bpassword:[ \t]*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\s,{}#'"](?:[^\n,{}#]*?[^\s,{}#])?)(?=[ \t]*(?:[,}]|#|$))/gm },
  // wwinit's /warewulf/config (shell): the BMC password `ipmi write` sets.
  { path: /(^|\/)warewulf\/config$/, word: 'WWIPMI_PASSWORD', value: /(\bWWIPMI_PASSWORD=)("[^"\n]*"|'[^'\n]*'|[^\s]*)/gm },
];

/** A YAML or shell scalar without its quotes, so `"x"`, `'x'` and `x` hash alike. */
function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

/** How herd names a secret it must not show: the first 12 hex digits of its sha256. */
export function secretHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/** The value as herd shows it: `<secret sha256:0123456789ab>` (or `<secret: empty>`). */
export function secretMark(value: string): string {
  const v = unquote(value);
  return v === '' ? '<secret: empty>' : `<secret sha256:${secretHash(v)}>`;
}

/** Whether herd hides values in this file's text. */
export function hasSecretLines(path: string): boolean {
  return RULES.some((r) => r.path.test(path));
}

/** `text` with every secret value replaced by its mark; the text itself when the file holds none. */
export function redactSecrets(path: string, text: string): string {
  const rule = RULES.find((r) => r.path.test(path));
  if (!rule || !text.includes(rule.word)) return text;
  return text.replace(rule.value, (_m, key: string, value: string) => `${key}${value === '' ? '' : secretMark(value)}`);
}
