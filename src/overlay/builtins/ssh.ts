// The SSH overlays (pure): the head's host keys on every node, and root's authorized_keys.
import type { BuiltinInput, BuiltinResult, OverlayFile } from '../types.ts';
import { directory, file } from './entries.ts';

const HOST_KEY = /^ssh_host_[a-z0-9]+_key(\.pub)?$/;

/**
 * Every node presents the same host keys (Warewulf's ssh.host_keys does the same, from /etc/warewulf/keys), so a node
 * rebuilt from scratch does not trip known_hosts. sshd refuses a private key readable by others: 0600.
 */
export function sshHostKeys(input: BuiltinInput): BuiltinResult {
  const keys = input.head.hostKeys ?? new Map<string, Uint8Array>();
  const names = [...keys.keys()].filter((n) => HOST_KEY.test(n)).sort();
  if (!names.some((n) => !n.endsWith('.pub'))) {
    const ref = input.model.head.files.sshHostKeys;
    return {
      problems: [{
        code: 'overlay/no-host-keys',
        message: `${ref.path} holds no SSH host private key (ssh_host_<type>_key), so sshd on the nodes would have none`,
        hint: `create them with ssh-keygen -A -f <dir> (they land in <dir>/etc/ssh), then copy them to ${ref.path}, or point head.ssh_host_keys at /etc/ssh`,
        at: ref.at,
      }],
    };
  }
  const files = names.map((n): OverlayFile => {
    const bytes = keys.get(n)!;
    return n.endsWith('.pub') ? file(`etc/ssh/${n}`, bytes, 0o644, undefined, 'head-file') : file(`etc/ssh/${n}`, bytes, 0o600, undefined, 'secret');
  });
  return { files };
}

/** root's authorized_keys from the head; the directories are 0700 as sshd's StrictModes requires. */
export function sshAuthorizedKeys(input: BuiltinInput): BuiltinResult {
  const keys = input.head.authorizedKeys ?? new Uint8Array(0);
  return { files: [directory('root', 0o700), directory('root/.ssh', 0o700), file('root/.ssh/authorized_keys', keys, 0o600, undefined, 'head-file')] };
}
