// Accounts on the nodes (pure): the image's users plus the site's, merged strictly, and the syncuser overlay that ships them.
import type { SourceRef } from '../../diagnostics/diagnostic.ts';
import { accountEntries, idsByName, parseAccountDb, parseId, type AccountDbKind } from '../../image/fix/accounts.ts';
import type { ClusterModel, HeadFileRef } from '../../spec/model.ts';
import type { AccountLookup, AccountTexts, BuiltinInput, BuiltinResult, OverlayProblem } from '../types.ts';
import { file } from './entries.ts';

/** How a merge names its two sides in messages, e.g. `image rockylinux-10` and `the head's /etc/passwd`. */
export interface AccountLabels {
  readonly image?: string;
  readonly sitePasswd?: string;
  readonly siteGroup?: string;
  /** Where a passwd clash points (the spec line naming the site's passwd); a group clash points at `groupAt`, else here. */
  readonly at?: SourceRef;
  readonly groupAt?: SourceRef;
}

/** nobody / nfsnobody: present on both sides with the same meaning, never a site user. */
const OVERFLOW_ID = 65534;

interface DbMerge {
  readonly text: string;
  readonly added: number;
  readonly problems: OverlayProblem[];
}

function mergeDb(kind: AccountDbKind, image: string, site: string | undefined, minId: number, imageLabel: string, siteLabel: string, at: SourceRef | undefined): DbMerge {
  const what = kind === 'passwd' ? 'user' : 'group';
  const idName = kind === 'passwd' ? 'UID' : 'GID';
  const idOf = new Map<string, number | undefined>();
  const nameOf = new Map<number, string>();
  for (const f of accountEntries(parseAccountDb(kind, image))) {
    const name = f[0]!;
    const id = parseId(f[2]);
    if (!idOf.has(name)) idOf.set(name, id);
    if (id !== undefined && !nameOf.has(id)) nameOf.set(id, name);
  }
  const added: string[] = [];
  const problems: OverlayProblem[] = [];
  const seen = new Set<string>();
  const hint = kind === 'passwd'
    ? 'give the site user another UID, or pin the image\'s user to the same UID under images.<name>.pins and rebuild the image'
    : 'give the site group another GID, or pin the image\'s group to the same GID under images.<name>.pins and rebuild the image';
  for (const f of site === undefined ? [] : accountEntries(parseAccountDb(kind, site))) {
    const name = f[0]!;
    const id = parseId(f[2]);
    if (id === undefined || id < minId || id === OVERFLOW_ID || seen.has(name)) continue;
    seen.add(name);
    if (idOf.has(name)) {
      const mine = idOf.get(name);
      if (mine === id) continue;
      problems.push({ code: 'overlay/account-clash', message: `${what} ${name} is ${mine ?? 'unnumbered'} in ${imageLabel} but ${id} in ${siteLabel}: files owned by one ID would belong to nobody on the nodes`, hint, ...(at ? { at } : {}) });
      continue;
    }
    const other = nameOf.get(id);
    if (other !== undefined) {
      problems.push({ code: 'overlay/account-clash', message: `${idName} ${id} is ${what} ${name} in ${siteLabel} but ${what} ${other} in ${imageLabel}: both names would own the same files on the nodes`, hint, ...(at ? { at } : {}) });
      continue;
    }
    added.push(f.join(':'));
  }
  const head = image === '' ? '' : image.replace(/\n*$/, '\n');
  return { text: head + added.map((l) => `${l}\n`).join(''), added: added.length, problems };
}

/** mergeAccounts plus whether the site contributed any line (then the files hold head data and are shown as hashes). */
export function mergeAccountsDetailed(image: AccountTexts, site: AccountTexts | undefined, minId: number, labels: AccountLabels = {}): { passwd: string; group: string; siteLines: number } | { problems: OverlayProblem[] } {
  const imageLabel = labels.image ?? 'the image';
  const p = mergeDb('passwd', image.passwd, site?.passwd, minId, imageLabel, labels.sitePasswd ?? "the site's passwd", labels.at);
  const g = mergeDb('group', image.group, site?.group, minId, imageLabel, labels.siteGroup ?? "the site's group file", labels.groupAt ?? labels.at);
  const problems = [...p.problems, ...g.problems];
  if (problems.length > 0) return { problems };
  return { passwd: p.text, group: g.text, siteLines: p.added + g.added };
}

/**
 * Warewulf's syncuser, made strict. The image's entries come first, as given (after pins); then the site's entries with
 * an ID of at least `minId` (never 65534). A site name the image has with the same ID keeps the image's line. A site name
 * the image has with another ID, or a site ID the image gives another name, is an `overlay/account-clash` problem:
 * Warewulf silently keeps the first entry, and the files owned by the other ID then belong to nobody, or to the wrong one.
 */
export function mergeAccounts(image: AccountTexts, site: AccountTexts | undefined, minId: number, labels: AccountLabels = {}): { passwd: string; group: string } | { problems: OverlayProblem[] } {
  const r = mergeAccountsDetailed(image, site, minId, labels);
  return 'problems' in r ? r : { passwd: r.passwd, group: r.group };
}

/** Name -> ID over an account database pair; the first entry of a name wins, as getpwnam(3) answers. */
export function accountLookup(t: AccountTexts): AccountLookup {
  const users = idsByName(parseAccountDb('passwd', t.passwd));
  const groups = idsByName(parseAccountDb('group', t.group));
  return { uid: (name) => users.get(name), gid: (name) => groups.get(name) };
}

/** What syncuser reads beyond BuiltinInput: the node's image accounts after pins, before the site's users are added. */
export interface ImageAccountsInput {
  readonly imageAccounts?: AccountTexts;
}

/** How a cluster's merge for one image names its sides: `image rockylinux-10` and `the head's /etc/passwd` (or the spec file). */
export function accountLabels(model: ClusterModel, image: string): AccountLabels {
  const f = model.head.files;
  const name = (ref: HeadFileRef): string => (ref.inSpec ? `${ref.path} in the spec folder` : `the head's ${ref.path}`);
  return { image: `image ${image}`, sitePasswd: name(f.passwd), siteGroup: name(f.group), at: f.passwd.at, groupAt: f.group.at };
}

export function syncuser(input: BuiltinInput & ImageAccountsInput): BuiltinResult {
  const { model, node } = input;
  if (input.imageAccounts === undefined) {
    return { problems: [{ code: 'overlay/accounts-unknown', message: `syncuser has no accounts of image ${node.image} to give node ${node.name}`, hint: `build image ${node.image} first (herd build)`, at: model.images[node.image]?.at.self ?? model.head.at }] };
  }
  const r = mergeAccountsDetailed(input.imageAccounts, input.head.siteAccounts, model.head.files.minId, accountLabels(model, node.image));
  if ('problems' in r) return r;
  const hidden = r.siteLines > 0 ? 'head-file' : undefined;
  return { files: [file('etc/passwd', r.passwd, 0o644, undefined, hidden), file('etc/group', r.group, 0o644, undefined, hidden)] };
}
