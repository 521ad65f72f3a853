// The artifact model (pure): everything herd compiles (config files, images, overlays) is an Artifact in one ArtifactSet.
import { createHash } from 'node:crypto';
import type { SlurmVersion } from '../spec/slurm-keys.ts';

/**
 * What a change to an artifact means for a running cluster, from least to most disruptive.
 * none: nothing to do; runtime-refresh: wwclient picks it up within a minute; slurm-reconfigure: `scontrol reconfigure`;
 * daemon-reload / daemon-restart: the named service; reboot: the affected nodes must reboot.
 */
export type ImpactClass = 'none' | 'runtime-refresh' | 'slurm-reconfigure' | 'daemon-reload' | 'daemon-restart' | 'reboot';

export const IMPACT_ORDER: readonly ImpactClass[] = ['none', 'runtime-refresh', 'slurm-reconfigure', 'daemon-reload', 'daemon-restart', 'reboot'];

export interface Impact {
  readonly class: ImpactClass;
  /** For daemon-reload/daemon-restart: the systemd unit (e.g. warewulfd, slurmctld, nfs-server). */
  readonly service?: string;
  /** Human explanation shown in plans, e.g. "warewulfd reads nodes.conf only at start or reload". */
  readonly reason?: string;
}

/** Kind of artifact: how plan renders its diff. */
/** kind 'tree': a folder written whole from an archive (an image unpacked into the chroot Warewulf's tools read); see state/tree-write.ts. */
export type ArtifactKind = 'config' | 'image' | 'overlay' | 'kernel' | 'tree' | 'index' | 'secret';

/** A file inside an archive artifact (image or overlay), as the content index lists it. */
export interface ContentEntry {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** sha256 hex of file content (files), of the link target (symlinks/hardlinks); absent otherwise. */
  readonly sha256?: string;
  /** Overlays: content a plan must not quote (a secret, or bytes read on the head outside the spec folder): hash only. */
  readonly hidden?: 'secret' | 'head-file';
  /** Overlays: the overlay this entry came from (a later overlay in the node's list replaces an earlier one's file). */
  readonly origin?: string;
}

/**
 * An archive's entries, read on first use. A cached image's 20,000 entries are megabytes of JSON that a plan reads only
 * when the image changed (for its content diff) and apply only when it writes the image (issue 17: a no-change plan).
 */
export interface DeferredContents {
  readonly count: number;
  readonly load: () => readonly ContentEntry[];
}

export type Contents = readonly ContentEntry[] | DeferredContents;

/** The entries themselves (loading deferred ones). */
export function contentEntries(c: Contents): readonly ContentEntry[];
export function contentEntries(c: Contents | undefined): readonly ContentEntry[] | undefined;
export function contentEntries(c: Contents | undefined): readonly ContentEntry[] | undefined {
  return c === undefined || isContentList(c) ? c : c.load();
}

/** How many entries, without loading deferred ones. */
export function contentCount(c: Contents): number {
  return isContentList(c) ? c.length : c.count;
}

function isContentList(c: Contents): c is readonly ContentEntry[] {
  return Array.isArray(c);
}

/** What an overlay archive artifact is: one node's `__SYSTEM__` or `__RUNTIME__` image (the .img and its .img.gz twin). */
export interface OverlayInfo {
  readonly node: string;
  readonly stage: 'system' | 'runtime';
  /** The overlays composed into it, in order. */
  readonly overlays: readonly string[];
  /** The gzip twin of the .img (same content; warewulfd serves it for compress=gz). */
  readonly gzipOf?: string;
}

export interface Artifact {
  /** Path relative to the target root, no leading slash, e.g. `etc/slurm/slurm.conf`. */
  readonly path: string;
  readonly kind: ArtifactKind;
  /** Bytes, present for small artifacts. Large ones (images) carry `produce` instead and a precomputed sha256/size. */
  readonly bytes?: Uint8Array;
  /** Lazy producer for large artifacts: writes the content to a sink; must produce exactly `sha256`/`size`. */
  readonly produce?: () => AsyncIterable<Uint8Array>;
  readonly sha256: string;
  readonly size: number;
  /** Octal permission bits, e.g. 0o644. */
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  /** Node names affected by a change (empty: no node directly). */
  readonly nodes: readonly string[];
  readonly impact: Impact;
  /** Secrets never show in plans or logs: only their hash. */
  readonly secret?: boolean;
  /** For image/overlay artifacts: what is inside, for content diffs (an image from the build cache reads it on first use). */
  readonly contents?: Contents;
  /** For overlay artifacts: whose overlay this is. */
  readonly overlay?: OverlayInfo;
  /** Short human description, e.g. "Slurm configuration". */
  readonly description?: string;
  /**
   * A managed block: the artifact's bytes are only the part of the file after the first line containing `marker`; the lines above it
   * belong to the site and are kept byte for byte (Warewulf's IncludeBlock). Plan compares and diffs only the block; apply writes live prefix + block.
   */
  readonly block?: { readonly marker: string };
  /**
   * kind 'tree': `produce` streams the archive the folder is unpacked from (`archive` is its hash and size), and `extras` are
   * files added beside the archive's entries where it has none (the kernel an image's excludes left out of the archive).
   * `sha256` is then the hash of that whole description (treeSha256), so a change in either is a change of the tree.
   */
  readonly tree?: { readonly archive: { readonly sha256: string; readonly size: number }; readonly extras: readonly TreeExtra[] };
}

/** A file added to a tree artifact where its archive has no entry at that path. */
export interface TreeExtra {
  /** Relative to the tree, e.g. `boot/vmlinuz-6.1.0-28-amd64`. */
  readonly path: string;
  readonly mode: number;
  readonly sha256: string;
  readonly size: number;
  readonly produce: () => AsyncIterable<Uint8Array>;
}

/** The identity of a tree artifact: its archive plus its extras (path, mode and content). */
export function treeSha256(archive: { readonly sha256: string }, extras: readonly Pick<TreeExtra, 'path' | 'mode' | 'sha256'>[]): string {
  return sha256Hex(['herd-tree-v1', archive.sha256, ...extras.map((e) => `${e.path}\0${e.mode.toString(8)}\0${e.sha256}`)].join('\n'));
}

/** Artifacts that could not be produced this run (e.g. an image whose source is not cached offline): whatever herd applied before under `prefix` is kept as it is. */
export interface PendingArtifacts {
  readonly prefix: string;
  readonly reason: string;
}

export interface ArtifactSet {
  /** Sorted by path; paths are unique. */
  readonly artifacts: readonly Artifact[];
  /** Paths herd must neither change nor delete this run. */
  readonly pending?: readonly PendingArtifacts[];
  /** The spec's slurm.version, for the runbook's Slurm steps (plan/runbook.ts); absent: 22.05. */
  readonly slurmVersion?: SlurmVersion;
}

export const isPendingPath = (set: ArtifactSet, path: string): boolean => (set.pending ?? []).some((p) => path === p.prefix || path.startsWith(p.prefix) || p.prefix === `${path}/`);

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface TextArtifactInput {
  path: string;
  text: string;
  kind?: ArtifactKind;
  mode?: number;
  owner?: string;
  group?: string;
  nodes?: readonly string[];
  impact: Impact;
  secret?: boolean;
  description?: string;
  block?: { readonly marker: string };
}

/** Build a small in-memory artifact from text. */
export function textArtifact(input: TextArtifactInput): Artifact {
  const bytes = new TextEncoder().encode(input.text);
  const a: Artifact = {
    path: input.path,
    kind: input.kind ?? 'config',
    bytes,
    sha256: sha256Hex(bytes),
    size: bytes.length,
    mode: input.mode ?? 0o644,
    owner: input.owner ?? 'root',
    group: input.group ?? 'root',
    nodes: input.nodes ?? [],
    impact: input.impact,
  };
  return {
    ...a,
    ...(input.secret ? { secret: true } : {}),
    ...(input.description ? { description: input.description } : {}),
    ...(input.block ? { block: input.block } : {}),
  };
}

/** Sort artifacts by path and reject duplicates (two compilers claiming one path is a bug). */
export function artifactSet(artifacts: Iterable<Artifact>, pending: readonly PendingArtifacts[] = []): ArtifactSet {
  const sorted = [...artifacts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.path === sorted[i - 1]!.path) throw new Error(`internal: two artifacts claim ${sorted[i]!.path}`);
  }
  return pending.length > 0 ? { artifacts: sorted, pending } : { artifacts: sorted };
}
