// UID/GID pins: rewrite the image's account databases to the pinned IDs and re-own every inode that had the old ones (async only to read the account files from content refs; otherwise pure).
//
// The seed lab's trap: munge drifts (995 on the head, 998 in a fresh image), and a pin that fixes /etc/passwd but
// misses one directory (/var/log/munge) keeps munged from starting. So re-owning is not a list of known paths: every
// inode of the tree whose owner was an old ID gets the new one, in a single pass with the whole old → new map, so two
// accounts that swap IDs do not undo each other, and each inode is changed once however many names (hard links) it has.
import { walkTree, type FsTree, type Inode } from '../tree/fs-tree.ts';
import {
  ACCOUNT_FILES,
  accountEntries,
  accountId,
  appendAccount,
  findAccount,
  parseAccountDb,
  primaryGid,
  serializeAccountDb,
  type AccountDb,
} from './accounts.ts';
import { problem, type FixResult, type ImageProblem } from './report.ts';
import { readTreeText, rewriteTreeText, type TreeText } from './tree-text.ts';

export interface Pins {
  readonly users: Readonly<Record<string, number>>;
  readonly groups: Readonly<Record<string, number>>;
}

export interface PinChange {
  readonly kind: 'user' | 'group';
  readonly name: string;
  readonly from: number;
  readonly to: number;
  /** Paths (every name of a hard-linked inode counts) whose owner (user) or group (group) moved from `from` to `to`. */
  readonly reowned: number;
  /** The first few of them, in walk order, for the summary. */
  readonly examples: readonly string[];
}

export interface PinsReport {
  readonly changes: readonly PinChange[];
  /** Pinned accounts that already had their ID. */
  readonly alreadyPinned: readonly string[];
  /** passwd entries whose primary GID followed a pinned group. */
  readonly primaryGroupUpdates: readonly string[];
  /** Entries added to shadow/gshadow for changed accounts that had none, as `shadow:munge`. */
  readonly addedShadowEntries: readonly string[];
  /** Account files rewritten (resolved paths). */
  readonly rewritten: readonly string[];
}

const EXAMPLES = 5;

/** Pin accounts in the tree: rewrite passwd/group (and shadow/gshadow entries), then re-own every affected inode. */
export async function applyPins(tree: FsTree, pins: Pins): Promise<FixResult<PinsReport>> {
  const files = new Map<keyof typeof ACCOUNT_FILES, { file: TreeText; db: AccountDb }>();
  for (const kind of ['passwd', 'group', 'shadow', 'gshadow'] as const) {
    const file = await readTreeText(tree, ACCOUNT_FILES[kind], 'latin1');
    if (file !== undefined) files.set(kind, { file, db: parseAccountDb(kind, file.text) });
  }
  const problems: ImageProblem[] = [];
  const users = pinTable('user', files.get('passwd')?.db, pins.users, problems);
  const groups = pinTable('group', files.get('group')?.db, pins.groups, problems);

  // Users whose primary group moved follow it (their passwd GID field is the group's ID).
  const primaryGroupUpdates: string[] = [];
  const passwd = files.get('passwd')?.db;
  if (passwd !== undefined && groups.map.size > 0) {
    for (const f of accountEntries(passwd)) {
      const gid = primaryGid(f);
      const to = gid === undefined ? undefined : groups.map.get(gid);
      if (to === undefined) continue;
      f[3] = String(to);
      primaryGroupUpdates.push(f[0] as string);
    }
  }

  const addedShadowEntries: string[] = [];
  for (const [kind, changed] of [['shadow', users.changed], ['gshadow', groups.changed]] as const) {
    const db = files.get(kind)?.db;
    if (db === undefined) continue;
    for (const c of changed) {
      if (findAccount(db, c.name) !== undefined) continue;
      appendAccount(db, c.name);
      addedShadowEntries.push(`${kind}:${c.name}`);
    }
  }

  const rewritten: string[] = [];
  for (const { file, db } of files.values()) {
    const text = serializeAccountDb(db);
    if (text === file.text) continue;
    rewriteTreeText(file.inode, text, 'latin1');
    rewritten.push(file.path);
  }

  const counts = reownTree(tree, users.map, groups.map);
  const changes: PinChange[] = [
    ...users.changed.map((c) => ({ kind: 'user' as const, ...c, ...(counts.uids.get(c.from) ?? NONE) })),
    ...groups.changed.map((c) => ({ kind: 'group' as const, ...c, ...(counts.gids.get(c.from) ?? NONE) })),
  ];
  return {
    report: { changes, alreadyPinned: [...users.already, ...groups.already], primaryGroupUpdates, addedShadowEntries, rewritten: rewritten.sort() },
    problems,
  };
}

const NONE = { reowned: 0, examples: [] as string[] };

interface TablePlan {
  /** old ID → new ID, for every account that moves. */
  readonly map: Map<number, number>;
  readonly changed: { name: string; from: number; to: number }[];
  readonly already: string[];
}

/** Decide and apply the pins of one table (passwd or group), collecting problems; accounts with a problem are left alone. */
function pinTable(kind: 'user' | 'group', db: AccountDb | undefined, wanted: Readonly<Record<string, number>>, problems: ImageProblem[]): TablePlan {
  const plan: TablePlan = { map: new Map(), changed: [], already: [] };
  const names = Object.keys(wanted).sort();
  if (names.length === 0) return plan;
  const file = kind === 'user' ? 'etc/passwd' : 'etc/group';
  const section = kind === 'user' ? 'users' : 'groups';
  const idName = kind === 'user' ? 'UID' : 'GID';
  const entries = db === undefined ? [] : accountEntries(db);
  // IDs as the image has them, read before any entry is rewritten (decisions must not see earlier pins of this loop).
  const original = new Map(entries.map((f) => [f, db === undefined ? undefined : accountId(db, f)]));
  // Every account's ID once the pins hold, to find pins that land on an ID another account keeps.
  const finalId = (f: readonly string[]): number | undefined => wanted[f[0] as string] ?? original.get(f as string[]);
  const edits: (() => void)[] = [];
  const reported = new Set<string>();
  for (const name of names) {
    const to = wanted[name] as number;
    const mine = entries.filter((f) => f[0] === name);
    const current = mine[0];
    const from = current === undefined ? undefined : original.get(current);
    if (current === undefined || from === undefined) {
      problems.push(
        problem(
          'image/pin-missing-account',
          db === undefined ? `${kind} ${name} is pinned to ${idName} ${to} but the image has no /${file}` : `${kind} ${name} is pinned to ${idName} ${to} but the image's /${file} has no ${current === undefined ? 'such account' : 'numeric ID for it'}`,
          `install the package that creates ${name} in the image (for munge: the munge package; for slurm: slurm or ohpc-slurm-client), or remove the pin`,
          'pins',
          `${section}.${name}`,
        ),
      );
      continue;
    }
    if (from === to) {
      plan.already.push(`${kind}:${name}`);
      continue;
    }
    const clash = entries.filter((f) => f[0] !== name && finalId(f) === to).map((f) => f[0] as string);
    if (clash.length > 0) {
      const key = [name, ...clash].sort().join('|');
      if (!reported.has(key)) {
        reported.add(key);
        problems.push(
          problem(
            'image/pin-collision',
            `${kind} ${name} is pinned to ${idName} ${to}, which ${kind} ${[...new Set(clash)].join(', ')} also has in the image; files of one would belong to the other`,
            `pin ${name} to the head node's ${idName} (\`${kind === 'user' ? 'id -u' : 'getent group'} ${name}\` there) and make sure no other account in the image uses it, or pin ${clash[0]} away too`,
            'pins',
            `${section}.${name}`,
          ),
        );
      }
      continue;
    }
    const sharing = entries.filter((f) => f[0] !== name && original.get(f) === from && finalId(f) !== to).map((f) => f[0] as string);
    if (sharing.length > 0) {
      problems.push(
        problem(
          'image/pin-shared-id',
          `${kind} ${name} has ${idName} ${from} in the image, shared with ${[...new Set(sharing)].join(', ')}; herd cannot tell whose files are whose to re-own them to ${to}`,
          `pin ${sharing[0]} too, or give it its own ${idName} in the image first`,
          'pins',
          `${section}.${name}`,
        ),
      );
      continue;
    }
    edits.push(() => {
      for (const f of mine) f[2] = String(to);
    });
    plan.map.set(from, to);
    plan.changed.push({ name, from, to });
  }
  for (const edit of edits) edit();
  return plan;
}

export interface ReownCounts {
  /** Per old ID: paths re-owned and the first few of them. */
  readonly uids: Map<number, { reowned: number; examples: string[] }>;
  readonly gids: Map<number, { reowned: number; examples: string[] }>;
}

/**
 * Give every inode owned by an old ID the new one (owner and group separately), root and symlinks included. Each
 * inode is mapped once, so hard links (one inode, several names) and swaps (a→b, b→a) come out right; every name
 * of a changed inode is counted.
 */
export function reownTree(tree: FsTree, uidMap: ReadonlyMap<number, number>, gidMap: ReadonlyMap<number, number>): ReownCounts {
  const counts: ReownCounts = { uids: new Map(), gids: new Map() };
  if (uidMap.size === 0 && gidMap.size === 0) return counts;
  // Per inode: the IDs it had before, so later names of a hard-linked inode are counted under the same account.
  const before = new Map<Inode, { uid?: number; gid?: number }>();
  const note = (table: ReownCounts['uids'], id: number, path: string): void => {
    const c = table.get(id) ?? { reowned: 0, examples: [] };
    c.reowned++;
    if (c.examples.length < EXAMPLES) c.examples.push(`/${path}`);
    table.set(id, c);
  };
  const visit = (path: string, inode: Inode): void => {
    let old = before.get(inode);
    if (old === undefined) {
      old = {};
      const u = uidMap.get(inode.uid);
      const g = gidMap.get(inode.gid);
      if (u !== undefined) {
        old.uid = inode.uid;
        inode.uid = u;
      }
      if (g !== undefined) {
        old.gid = inode.gid;
        inode.gid = g;
      }
      before.set(inode, old);
    }
    if (old.uid !== undefined) note(counts.uids, old.uid, path);
    if (old.gid !== undefined) note(counts.gids, old.gid, path);
  };
  visit('', tree.root);
  for (const e of walkTree(tree)) visit(e.path, e.inode);
  return counts;
}

/** One line per change, for the build summary. */
export function describePins(r: PinsReport): string[] {
  const lines = r.changes.map(
    (c) => `pinned ${c.kind} ${c.name} ${c.from} → ${c.to}; re-owned ${c.reowned} path${c.reowned === 1 ? '' : 's'}${c.examples.length > 0 ? ` (${c.examples.join(', ')}${c.reowned > c.examples.length ? ', …' : ''})` : ''}`,
  );
  if (r.primaryGroupUpdates.length > 0) lines.push(`primary group ID updated for ${r.primaryGroupUpdates.join(', ')}`);
  if (r.addedShadowEntries.length > 0) lines.push(`added locked entries ${r.addedShadowEntries.join(', ')}`);
  return lines;
}
