// Helpers for state tests (I/O): plan and apply a synthetic set against a real directory, and snapshot a tree to compare before/after.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactSet } from '../../../src/artifacts/artifact.ts';
import { applyPlan, type ApplyOp, type ApplyResult } from '../../../src/state/apply.ts';
import type { ScanStats } from '../../../src/state/live-scan.ts';
import { openTarget } from '../../../src/state/target.ts';
import { ownerResolverForThisMachine } from '../../../src/state/owners.ts';
import { sha256Hex } from '../../../src/artifacts/artifact.ts';
import { isHerdFailure } from '../../../src/diagnostics/diagnostic.ts';

export async function planOf(root: string, set: ArtifactSet, stats?: ScanStats) {
  const s = await openTarget(root, set, { purpose: 'plan', command: 'test plan', ...(stats ? { stats } : {}) });
  s.release();
  return s;
}

export async function applyTo(
  root: string,
  set: ArtifactSet,
  options: { overwriteDrift?: boolean; onOp?: (op: ApplyOp) => void | Promise<void>; fsync?: boolean; specHash?: string; between?: () => void } = {},
): Promise<ApplyResult> {
  const s = await openTarget(root, set, { purpose: 'apply', command: 'test apply' });
  try {
    // A test's stand-in for a concurrent attacker: runs after the plan was made under the lock, before apply writes.
    options.between?.();
    return await applyPlan({
      root,
      dir: s.dir!,
      lock: s.lock!,
      desired: set,
      stored: s.stored,
      live: s.live,
      plan: s.plan,
      cluster: 'synth',
      overwriteDrift: options.overwriteDrift ?? false,
      generation: { specHash: options.specHash ?? sha256Hex('spec'), specCommit: null, herdVersion: 'test' },
      now: () => new Date('2024-01-01T00:00:00Z'),
      resolveOwner: ownerResolverForThisMachine(),
      ...(options.onOp ? { onOp: options.onOp } : {}),
      ...(options.fsync === false ? { fsync: false } : {}),
    });
  } finally {
    s.release();
  }
}

/** Every entry under `root`: relative path → type, mode and (files) sha256. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(abs, r);
      } else out[r] = `${st.isFile() ? 'file' : 'other'} ${(st.mode & 0o7777).toString(8)} ${st.isFile() ? createHash('sha256').update(readFileSync(abs)).digest('hex') : ''}`;
    }
  };
  walk(root, '');
  return out;
}

/** The bytes an artifact stands for (collecting produce() for streamed ones). */
export async function bytesOf(a: ArtifactSet['artifacts'][number]): Promise<Uint8Array> {
  if (a.bytes) return a.bytes;
  const chunks: Uint8Array[] = [];
  for await (const c of a.produce!()) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The HerdFailure a promise rejects with; fails the test when it resolves or throws anything else. */
export async function herdFailureOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isHerdFailure(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}
