// Synthetic artifact sets for plan/apply tests and the bench (pure, deterministic): two versions A and B that differ in every way apply handles.
import { createHash } from 'node:crypto';
import { artifactSet, sha256Hex, textArtifact, type Artifact, type ArtifactSet, type ContentEntry } from '../../../src/artifacts/artifact.ts';
import type { CompileResult } from '../../../src/pipeline.ts';

export type Version = 'A' | 'B';

/** Deterministic pseudo-random bytes from a seed (sha256 in counter mode). */
export function seededBytes(seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0, i = 0; off < size; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest();
    out.set(block.subarray(0, Math.min(32, size - off)), off);
    off += 32;
  }
  return out;
}

function contentsFor(seed: string, files: number): ContentEntry[] {
  const entries: ContentEntry[] = [{ path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 }];
  for (let i = 0; i < files; i++) {
    const body = seededBytes(`${seed}/f${i}`, 100 + i);
    entries.push({ path: `etc/file${i}.conf`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, sha256: sha256Hex(body) });
  }
  return entries;
}

/** A small binary archive stand-in with a content index; bytes are seeded, the index describes files inside. */
export function overlayArtifact(path: string, node: string, seed: string, size = 4096, indexSeed = seed): Artifact {
  const bytes = seededBytes(seed, size);
  return {
    path,
    kind: 'overlay',
    bytes,
    sha256: sha256Hex(bytes),
    size: bytes.length,
    mode: 0o644,
    owner: 'root',
    group: 'root',
    nodes: [node],
    impact: { class: 'reboot', reason: 'system overlays load at boot' },
    contents: contentsFor(indexSeed, 3),
  };
}

/** A streamed artifact (like a node image): produce() yields `chunks` chunks of 64 KiB. */
export function producedImage(path: string, seed: string, nodes: readonly string[], chunks = 4, corrupt = false): Artifact {
  const chunkSize = 64 * 1024;
  const all = seededBytes(seed, chunkSize * chunks);
  return {
    path,
    kind: 'image',
    sha256: sha256Hex(all),
    size: all.length,
    mode: 0o644,
    owner: 'root',
    group: 'root',
    nodes,
    impact: { class: 'reboot', reason: 'the image is loaded at boot' },
    contents: contentsFor(seed, 5),
    async *produce() {
      for (let i = 0; i < chunks; i++) {
        const chunk = all.slice(i * chunkSize, (i + 1) * chunkSize);
        if (corrupt && i === chunks - 1) chunk[0] = chunk[0]! ^ 0xff;
        yield chunk;
      }
    },
  };
}

const NODES = ['c001', 'c002', 'c003', 'c004', 'c005'];

/**
 * Version A and B of a small cluster's artifacts. From A to B: slurm.conf, nodes.conf, the munge key (secret) and the image change;
 * overlays of c001/c002 change, c003's stays, c004's goes, c005's appears; only-a.conf goes, only-b.conf appears; mode.conf changes mode only; hosts stays.
 */
export function versionSet(v: Version, options: { corruptImage?: boolean } = {}): ArtifactSet {
  const a: Artifact[] = [
    textArtifact({ path: 'etc/hosts', text: '10.0.0.1 head\n10.0.0.2 c001\n', impact: { class: 'none' } }),
    textArtifact({
      path: 'etc/slurm/slurm.conf',
      text: `ClusterName=synth\nSlurmctldHost=head\nPartitionName=normal Nodes=c[001-005] MaxTime=${v === 'A' ? '2:00:00' : '4:00:00'}\n`,
      nodes: NODES,
      impact: { class: 'slurm-reconfigure' },
    }),
    textArtifact({
      path: 'etc/warewulf/nodes.conf',
      text: `nodes:\n  c001:\n    comment: ${v}\n`,
      mode: 0o640,
      group: 'warewulf',
      nodes: ['c001'],
      impact: { class: 'daemon-reload', service: 'warewulfd', reason: 'warewulfd reads nodes.conf only at start or reload' },
    }),
    textArtifact({ path: 'etc/munge/munge.key', text: `munge-key-${v}-0123456789abcdef\n`, kind: 'secret', mode: 0o600, owner: 'munge', group: 'munge', secret: true, impact: { class: 'daemon-restart', service: 'munge' } }),
    textArtifact({ path: 'etc/mode.conf', text: 'same bytes in A and B\n', mode: v === 'A' ? 0o644 : 0o600, impact: { class: 'none' } }),
    textArtifact({ path: v === 'A' ? 'etc/only-a.conf' : 'etc/only-b.conf', text: `only in ${v}\n`, impact: { class: 'none' } }),
    producedImage('srv/warewulf/provision/images/rocky.img', `image-${v}`, NODES, 4, options.corruptImage),
  ];
  const overlay = (node: string, seed: string) => overlayArtifact(`srv/warewulf/provision/overlays/${node}/__SYSTEM__.img`, node, seed);
  a.push(overlay('c001', `ov-c001-${v}`), overlay('c002', `ov-c002-${v}`), overlay('c003', 'ov-c003'));
  a.push(v === 'A' ? overlay('c004', 'ov-c004') : overlay('c005', 'ov-c005'));
  return artifactSet(a);
}

/** Many nodes' worth: one few-KiB overlay per node plus a nodes.conf listing them all (for the bench). */
export function manyNodesSet(nodes: number, seed = 'n', overlayBytes = 4096): ArtifactSet {
  const names = Array.from({ length: nodes }, (_, i) => `n${String(i + 1).padStart(5, '0')}`);
  const artifacts: Artifact[] = names.map((n) => overlayArtifact(`srv/warewulf/provision/overlays/${n}/__SYSTEM__.img`, n, `${seed}-${n}`, overlayBytes));
  artifacts.push(
    textArtifact({ path: 'etc/warewulf/nodes.conf', text: names.map((n) => `${n}: {}\n`).join(''), nodes: names, impact: { class: 'daemon-reload', service: 'warewulfd' } }),
    textArtifact({ path: 'etc/slurm/slurm.conf', text: `ClusterName=bench\nNodeName=n[00001-${String(nodes).padStart(5, '0')}]\n`, nodes: names, impact: { class: 'slurm-reconfigure' } }),
  );
  return artifactSet(artifacts);
}

/** A stand-in for compileSpecAt that returns `set` as if compiled from a spec at `specDir`. */
export function fakeCompile(set: ArtifactSet | (() => ArtifactSet), specDir: string, specHash = sha256Hex('synthetic')) {
  return async (): Promise<CompileResult> => ({
    diagnostics: [],
    specFile: `${specDir}/cluster.yaml`,
    specDir,
    displayPath: 'cluster.yaml',
    clusterName: 'synth',
    specHash,
    sources: new Map(),
    artifacts: typeof set === 'function' ? set() : set,
  });
}
