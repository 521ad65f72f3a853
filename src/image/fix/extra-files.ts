// Files, directories and symlinks the spec adds to an image (async only to read passwd/group from content refs; otherwise pure).
//
// Rules: owner and group are names looked up in the image's own passwd/group (after pins, so `owner: munge` means the
// pinned UID), or decimal IDs. Parent directories are created 0755 root:root. Symlinks on the way to a path are
// followed inside the image (on a usr-merged image `/lib/systemd/system/x` lands in usr/lib/...), so a file never
// replaces the `lib` symlink. At the path itself, a file or symlink replaces whatever is there (tar semantics), while
// a directory over a directory, or over a symlink to one, only updates the metadata and keeps the contents: replacing
// `lib -> usr/lib` with an empty directory would unmake the image. Entries that put a secret into the image (a munge key,
// a host key) are named by secretFiles, so the build can warn and keep the image's files owner-only.
import { NO_XATTRS, lookup, mkdirAll, newInode, normalizePath, resolvePath, setInode, splitPath, type FsTree, type InodeMeta, type InodeType } from '../tree/fs-tree.ts';
import { ACCOUNT_FILES, idsByName, parseAccountDb, parseId } from './accounts.ts';
import { problem, type FixResult, type ImageProblem } from './report.ts';
import { readTreeText } from './tree-text.ts';

export interface ExtraFile {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  /** File content: text (written as UTF-8) or bytes. */
  readonly content?: string | Uint8Array;
  readonly target?: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
}

export interface AppliedFile {
  /** Where it went, after following symlinks of the parents. */
  readonly path: string;
  readonly type: ExtraFile['type'];
  readonly action: 'created' | 'replaced' | 'updated';
  /** What was there before, when something was. */
  readonly replaced?: InodeType;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export interface ExtraFilesReport {
  readonly applied: readonly AppliedFile[];
  /** Parent directories herd had to create. */
  readonly createdDirs: readonly string[];
}

export interface ExtraFilesOptions {
  /** mtime of everything written (SOURCE_DATE_EPOCH); default 0. */
  readonly mtime?: number;
}

export async function applyExtraFiles(tree: FsTree, files: readonly ExtraFile[], options: ExtraFilesOptions = {}): Promise<FixResult<ExtraFilesReport>> {
  const passwd = await readTreeText(tree, ACCOUNT_FILES.passwd, 'latin1');
  const group = await readTreeText(tree, ACCOUNT_FILES.group, 'latin1');
  const users = passwd === undefined ? new Map<string, number>() : idsByName(parseAccountDb('passwd', passwd.text));
  const groups = group === undefined ? new Map<string, number>() : idsByName(parseAccountDb('group', group.text));
  return placeExtraFiles(tree, files, users, groups, options);
}

/** The pure part: place the files with owners resolved through the given name → ID maps. */
export function placeExtraFiles(
  tree: FsTree,
  files: readonly ExtraFile[],
  users: ReadonlyMap<string, number>,
  groups: ReadonlyMap<string, number>,
  options: ExtraFilesOptions = {},
): FixResult<ExtraFilesReport> {
  const mtime = options.mtime ?? 0;
  const problems: ImageProblem[] = [];
  const applied: AppliedFile[] = [];
  const createdDirs: string[] = [];
  for (const f of files) {
    const key = f.path;
    const uid = users.get(f.owner) ?? parseId(f.owner);
    const gid = groups.get(f.group) ?? parseId(f.group);
    if (uid === undefined) {
      problems.push(problem('image/unknown-owner', `owner ${f.owner} of ${f.path} is not a user in the image's /etc/passwd`, `use an account the image has (or a numeric UID), or install the package that creates ${f.owner}`, 'files', key));
    }
    if (gid === undefined) {
      problems.push(problem('image/unknown-group', `group ${f.group} of ${f.path} is not a group in the image's /etc/group`, `use a group the image has (or a numeric GID), or install the package that creates ${f.group}`, 'files', key));
    }
    const parts = splitPath(f.path);
    if (parts.length === 0) {
      problems.push(problem('image/bad-file', `${f.path} is the root of the image, which cannot be ${f.type === 'directory' ? 'changed through files' : `a ${f.type}`}`, 'give a path below /', 'files', key));
      continue;
    }
    if (f.type === 'symlink' && (f.target === undefined || f.target === '')) {
      problems.push(problem('image/bad-file', `symlink ${f.path} has no target`, 'set target', 'files', key));
      continue;
    }
    if (uid === undefined || gid === undefined) continue;
    if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o7777) {
      problems.push(problem('image/bad-file', `mode ${f.mode} of ${f.path} is not a permission mode`, 'use an octal mode such as 0644', 'files', key));
      continue;
    }

    const parent = resolvePath(tree, parts.slice(0, -1));
    const name = parts[parts.length - 1] as string;
    const missing: string[] = [];
    for (let i = 1; i <= parent.length; i++) if (lookup(tree, parent.slice(0, i)) === undefined) missing.push(parent.slice(0, i).join('/'));
    try {
      mkdirAll(tree, parent, { mode: 0o755, uid: 0, gid: 0, mtime, xattrs: NO_XATTRS });
    } catch {
      problems.push(problem('image/file-conflict', `cannot place ${f.path}: /${firstNonDir(tree, parent)} is not a directory in the image`, 'change the path, or replace that entry with a directory first', 'files', key));
      continue;
    }
    createdDirs.push(...missing);

    const meta: InodeMeta = { mode: f.mode, uid, gid, mtime, xattrs: NO_XATTRS };
    let target = [...parent, name];
    let old = lookup(tree, target);
    if (f.type === 'directory' && old?.type === 'symlink') {
      const through = resolvePath(tree, target);
      if (lookup(tree, through)?.type === 'directory') {
        target = through;
        old = lookup(tree, target);
      }
    }
    const path = normalizePath(target.join('/'));
    if (f.type === 'directory') {
      setInode(tree, target, newInode('directory', meta));
    } else if (f.type === 'symlink') {
      setInode(tree, target, newInode('symlink', meta, { linkname: f.target as string }));
    } else {
      const data = typeof f.content === 'string' ? new Uint8Array(Buffer.from(f.content, 'utf8')) : (f.content ?? new Uint8Array(0));
      setInode(tree, target, newInode('file', meta, { size: data.length, ...(data.length > 0 ? { content: { kind: 'bytes', data } } : {}) }));
    }
    const action = old === undefined ? 'created' : old.type === 'directory' && f.type === 'directory' ? 'updated' : 'replaced';
    applied.push({ path, type: f.type, action, ...(old !== undefined && action === 'replaced' ? { replaced: old.type } : {}), uid, gid, mode: f.type === 'symlink' ? 0o777 : f.mode });
  }
  return { report: { applied, createdDirs: [...new Set(createdDirs)] }, problems };
}

function firstNonDir(tree: FsTree, parts: readonly string[]): string {
  for (let i = 1; i <= parts.length; i++) {
    const n = lookup(tree, parts.slice(0, i));
    if (n !== undefined && n.type !== 'directory') return parts.slice(0, i).join('/');
  }
  return parts.join('/');
}

/** A files: entry that looks like a secret, and why. */
export interface SecretFile {
  /** Index of the entry in the list given. */
  readonly index: number;
  readonly path: string;
  readonly why: string;
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const ROOT_OWNERS = new Set(['root', '0']);

/**
 * Entries that put a secret into the image, which every node downloads and the head keeps as a file: the munge key, ssh
 * host private keys, a file only its non-root owner may read (mode 0400 or 0600), or content that is a PEM private key.
 * Pure, on the spec alone, so it holds for cached and pending builds too.
 */
export function secretFiles(files: readonly Pick<ExtraFile, 'path' | 'type' | 'content' | 'mode' | 'owner'>[]): SecretFile[] {
  const out: SecretFile[] = [];
  for (const [index, f] of files.entries()) {
    if (f.type !== 'file') continue;
    const path = normalizePath(f.path);
    const text = f.content === undefined ? '' : typeof f.content === 'string' ? f.content : Buffer.from(f.content).toString('latin1');
    const why =
      path === 'etc/munge/munge.key'
        ? 'the munge key'
        : /^etc\/ssh\/ssh_host_[^/]*_key$/.test(path)
          ? 'an ssh host private key'
          : PEM_PRIVATE_KEY.test(text)
            ? 'its content is a PEM private key'
            : (f.mode === 0o400 || f.mode === 0o600) && !ROOT_OWNERS.has(f.owner)
              ? `only its owner ${f.owner} may read it (mode 0${f.mode.toString(8)})`
              : undefined;
    if (why !== undefined) out.push({ index, path, why });
  }
  return out;
}

/** One line per file, for the build summary. */
export function describeExtraFiles(r: ExtraFilesReport): string[] {
  const lines = r.applied.map((a) => `${a.action} ${a.type} /${a.path} ${a.mode.toString(8).padStart(4, '0')} ${a.uid}:${a.gid}${a.replaced ? ` (was a ${a.replaced})` : ''}`);
  if (r.createdDirs.length > 0) lines.push(`created parent directories ${r.createdDirs.map((d) => `/${d}`).join(', ')}`);
  return lines;
}
