// Synthetic per-node overlay artifacts for plan tests (pure helpers): real cpio newc archives built with herd's writer, a .img and its .img.gz twin.
import { gzipSync } from 'node:zlib';
import { sha256Hex, type Artifact, type ContentEntry } from '../../../src/artifacts/artifact.ts';
import { cpioNewc, sortCpioEntries, type CpioEntry } from '../../../src/artifacts/cpio-newc.ts';

export interface OverlayFileSpec {
  readonly path: string;
  readonly content?: string | Uint8Array;
  readonly mode?: number;
  readonly type?: 'file' | 'directory' | 'symlink';
  readonly target?: string;
  readonly hidden?: 'secret' | 'head-file';
  readonly origin?: string;
  readonly uid?: number;
}

export interface OverlayPair {
  readonly img: Artifact;
  readonly gz: Artifact;
  /** How many times produce() of the .img ran (tests count archive reads). */
  readonly produced: () => number;
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return Buffer.concat(out);
}

/** Parent directories first, then the files, as the overlay packer lays them out. */
function entriesOf(files: readonly OverlayFileSpec[], mtime: number): CpioEntry[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: CpioEntry[] = [...dirs].filter((d) => !files.some((f) => f.path === d)).map((d) => ({ path: d, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime }));
  for (const f of files) {
    const type = f.type ?? 'file';
    const base = { path: f.path, type, mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: f.uid ?? 0, gid: 0, mtime } as const;
    if (type === 'file') {
      const data = typeof f.content === 'string' ? Buffer.from(f.content) : (f.content ?? new Uint8Array(0));
      entries.push({ ...base, data });
    } else if (type === 'symlink') entries.push({ ...base, target: f.target! });
    else entries.push(base);
  }
  return sortCpioEntries(entries);
}

/**
 * One node's overlay archive at `<stateDir>/provision/overlays/<node>/__SYSTEM__.img` (or __RUNTIME__) and its gzip twin.
 * Another `mtime` gives the same entries in other bytes (as Warewulf's own rebuild of them would).
 */
export async function overlayPair(node: string, stage: 'system' | 'runtime', files: readonly OverlayFileSpec[], stateDir = 'srv/warewulf', overlays = ['wwinit', 'site'], mtime = 0): Promise<OverlayPair> {
  const stream = cpioNewc(entriesOf(files, mtime));
  const bytes = await collect(stream.chunks);
  const meta = new Map(files.map((f) => [f.path, f]));
  const contents: ContentEntry[] = stream.contents().map((e) => {
    const f = meta.get(e.path);
    return { ...e, ...(f?.hidden ? { hidden: f.hidden } : {}), ...(f?.origin ? { origin: f.origin } : {}) };
  });
  const path = `${stateDir}/provision/overlays/${node}/${stage === 'system' ? '__SYSTEM__' : '__RUNTIME__'}.img`;
  const impact = stage === 'system' ? ({ class: 'reboot', reason: 'system overlays load at boot' } as const) : ({ class: 'runtime-refresh' } as const);
  let produced = 0;
  const img: Artifact = {
    path,
    kind: 'overlay',
    sha256: sha256Hex(bytes),
    size: bytes.length,
    mode: 0o644,
    owner: 'root',
    group: 'root',
    nodes: [node],
    impact,
    contents,
    overlay: { node, stage, overlays },
    async *produce() {
      produced++;
      // Two chunks, so readers see a stream and not one buffer.
      yield bytes.subarray(0, bytes.length >> 1);
      yield bytes.subarray(bytes.length >> 1);
    },
  };
  const gzBytes = gzipSync(bytes, { level: 1 });
  const gz: Artifact = {
    ...img,
    path: `${path}.gz`,
    sha256: sha256Hex(gzBytes),
    size: gzBytes.length,
    overlay: { node, stage, overlays, gzipOf: path },
    async *produce() {
      yield gzBytes;
    },
  };
  return { img, gz, produced: () => produced };
}
