// Owner lookup (I/O): map an artifact's owner and group names to ids via this machine's /etc/passwd and /etc/group.
// herd chowns only when it runs as root and both names exist here; the manifest records the desired names either way.
import { readFileSync } from 'node:fs';

export type OwnerResolver = (owner: string, group: string) => { uid: number; gid: number } | undefined;

function idsByName(file: string, idField: number): Map<string, number> {
  const ids = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return ids;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    const id = Number(fields[idField]);
    if (fields[0] && Number.isInteger(id) && !ids.has(fields[0])) ids.set(fields[0], id);
  }
  return ids;
}

/** A resolver for this machine, or one that never resolves when not running as root (chown would fail anyway). */
export function ownerResolverForThisMachine(files = { passwd: '/etc/passwd', group: '/etc/group' }): OwnerResolver {
  if (process.getuid?.() !== 0) return () => undefined;
  const users = idsByName(files.passwd, 2);
  const groups = idsByName(files.group, 2);
  return (owner, group) => {
    const uid = users.get(owner);
    const gid = groups.get(group);
    return uid !== undefined && gid !== undefined ? { uid, gid } : undefined;
  };
}
