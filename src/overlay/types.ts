// Per-node overlays (pure types): what herd puts into each node's __SYSTEM__ and __RUNTIME__ archive, and what the
// generators of those files read. Every overlay (herd's built-ins, wwinit/wwclient from the head's Warewulf install, the
// site's own folders) renders to OverlayFile lists; compose.ts merges them per node and stage, pack.ts archives them.
import type { SourceRef } from '../diagnostics/diagnostic.ts';
import type { ClusterModel, NodeModel } from '../spec/model.ts';

/** One entry of an overlay, as it lands on the node. */
export interface OverlayFile {
  /** Relative to the node's root: no leading '/', no '.' or '..' components, '/'-separated, e.g. `etc/hostname`. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  /** Permission bits (0..0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Files: the bytes (a string is UTF-8). */
  readonly content?: Uint8Array | string;
  /** Symlinks: the target, as stored (never followed by herd). */
  readonly target?: string;
  /**
   * How plans may show this file: `secret` (munge key, ssh private keys) and `head-file` (bytes read from the build
   * machine outside the spec folder, e.g. passwd entries or public keys) show only their sha256, never their content.
   */
  readonly hidden?: 'secret' | 'head-file';
}

/** An account database as text (the image's own after pins, or the head's site users), parsed on use. */
export interface AccountTexts {
  readonly passwd: string;
  readonly group: string;
}

/** A name -> id lookup over the accounts a node will have (image accounts after pins, plus site users). */
export interface AccountLookup {
  uid(name: string): number | undefined;
  gid(name: string): number | undefined;
}

/**
 * Files read on the build machine (the head) for the built-in overlays. Each is undefined when absent there; the
 * overlays that need it are then pending (nothing is built for them) with the reason in `missing`.
 */
export interface HeadInputs {
  /** The munge key bytes (a secret: never shown). */
  readonly mungeKey?: Uint8Array;
  /** SSH host keys by file name (`ssh_host_ed25519_key`, `ssh_host_ed25519_key.pub`, ...). Private keys are secrets. */
  readonly hostKeys?: ReadonlyMap<string, Uint8Array>;
  /** root's authorized_keys for the nodes. */
  readonly authorizedKeys?: Uint8Array;
  /** Site users and groups (ids >= the spec's minimum) from the head's account files or files in the spec folder. */
  readonly siteAccounts?: AccountTexts;
}

/** Everything a built-in overlay generator reads: a typed slice of the resolved model plus build-time inputs. */
export interface BuiltinInput {
  readonly model: ClusterModel;
  readonly node: NodeModel;
  /** The node's image accounts after pins (from the built image), merged with site users: owners of herd's files. */
  readonly accounts: AccountLookup;
  readonly head: HeadInputs;
  /** herd's compiled configuration files the nodes need a copy of, by head path (`etc/slurm/slurm.conf`, ...). */
  readonly config: ReadonlyMap<string, string>;
  /** The node's image accounts after pins, as built (syncuser merges the site's users into them). */
  readonly imageAccounts?: AccountTexts;
}

/** A problem with one overlay of one node (e.g. an owner the image does not have): an error at `at`. */
export interface OverlayProblem {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly at?: SourceRef;
}

/** What a built-in overlay produced for one node. */
export type BuiltinResult = { readonly files: readonly OverlayFile[] } | { readonly problems: readonly OverlayProblem[] };
