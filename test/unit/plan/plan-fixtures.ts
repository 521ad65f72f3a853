// Hand-built plan inputs for the plan tests (pure helpers): a fake disk, the LiveState scanLive would see for it, and a manifest as if applied.
import { sha256Hex, type ArtifactSet } from '../../../src/artifacts/artifact.ts';
import type { LiveFile, LiveState } from '../../../src/plan/plan-types.ts';
import type { StateManifest } from '../../../src/plan/state-manifest.ts';

export type Disk = Record<string, { bytes: Uint8Array; mode: number } | 'dir'>;

export function live(disk: Disk, extra: Partial<LiveState> = {}): LiveState {
  const files = new Map<string, LiveFile>();
  for (const [path, f] of Object.entries(disk)) {
    files.set(path, f === 'dir' ? { type: 'other' } : { type: 'file', sha256: sha256Hex(f.bytes), size: f.bytes.length, mode: f.mode, bytes: f.bytes, hashed: true });
  }
  return { files, contentIndexes: new Map(), ...extra };
}

export async function diskOf(set: ArtifactSet): Promise<Disk> {
  const disk: Disk = {};
  for (const a of set.artifacts) {
    const chunks: Uint8Array[] = [];
    if (a.produce) for await (const c of a.produce()) chunks.push(c);
    disk[a.path] = { bytes: a.bytes ?? Buffer.concat(chunks), mode: a.mode };
  }
  return disk;
}

export function manifestOf(set: ArtifactSet): StateManifest {
  return {
    formatVersion: 1,
    kind: 'herd-state',
    cluster: 't',
    generations: [{ generation: 0, specHash: sha256Hex('s'), specCommit: null, herdVersion: 'test', appliedAt: '2020-01-01T00:00:00.000Z' }],
    entries: set.artifacts.map((a) => ({
      path: a.path,
      kind: a.kind,
      sha256: a.sha256,
      size: a.size,
      mode: a.mode,
      owner: a.owner,
      group: a.group,
      uid: null,
      gid: null,
      ...(a.secret ? { secret: true } : {}),
      nodes: [...a.nodes],
      impact: a.impact,
      generation: 0,
      stat: { size: a.size, mtimeNs: '1', ctimeNs: '1', ino: '1' },
    })),
  };
}

