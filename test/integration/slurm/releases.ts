// Which real Slurm releases the Slurm integration tests run: the host's (Debian 12's slurm-wlm 22.05) and 24.11 from the Debian 13
// root that build-slurm-24.11-root.sh makes (.ci/run builds it). CI_REQUIRE_ORACLE=1 turns a missing root into a failure, not a skip.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpecAt } from '../../../src/pipeline.ts';
import type { SlurmVersion } from '../../../src/spec/slurm-keys.ts';

export interface SlurmRelease {
  readonly version: SlurmVersion;
  /** Root filesystem holding this release (undefined: the host's own Slurm). */
  readonly root?: string;
}

export const SLURM_2411_ROOT = process.env.HERD_SLURM_2411_ROOT ?? '/tmp/herd-slurm-24.11';
export const REQUIRE_RELEASES = process.env.CI_REQUIRE_ORACLE === '1';

/** Why the 24.11 root cannot be used, or undefined when it can. */
export const missing2411: string | undefined = existsSync(`${SLURM_2411_ROOT}/.herd-slurm-root-complete`) && existsSync(`${SLURM_2411_ROOT}/usr/sbin/slurmctld`)
  ? undefined
  : `no Slurm 24.11 root at ${SLURM_2411_ROOT} (build it with test/integration/slurm/build-slurm-24.11-root.sh)`;

/** The releases present here, oldest first. */
export const SLURM_RELEASES: readonly SlurmRelease[] = [{ version: '22.05' }, ...(missing2411 ? [] : [{ version: '24.11' as const, root: SLURM_2411_ROOT }])];

const repo = new URL('../../../', import.meta.url).pathname;
const text = (a: { bytes?: Uint8Array } | undefined): string | undefined => (a?.bytes ? new TextDecoder().decode(a.bytes) : undefined);

export interface CompiledSlurm {
  readonly version: string | undefined;
  readonly slurmConf: string;
  readonly gresConf?: string;
  readonly cgroupConf: string;
  readonly errors: readonly unknown[];
}

/** The Slurm files herd compiles for a copy of clusters/<cluster> whose spec says slurm.version: `version` (the copy is removed). */
export async function compileExampleFor(cluster: string, version: SlurmVersion, edit: (spec: string) => string = (s) => s): Promise<CompiledSlurm> {
  const dir = mkdtempSync(join(tmpdir(), 'herd-slurm-version-'));
  try {
    cpSync(join(repo, 'clusters', cluster), dir, { recursive: true });
    const spec = readFileSync(join(dir, 'cluster.yaml'), 'utf8');
    if (!/^slurm:\n/m.test(spec)) throw new Error(`clusters/${cluster}/cluster.yaml has no slurm: section`);
    writeFileSync(join(dir, 'cluster.yaml'), edit(spec.replace(/^slurm:\n/m, `slurm:\n  version: "${version}"\n`)));
    const r = await compileSpecAt(dir, dir, { images: false });
    const get = (p: string) => text(r.artifacts?.artifacts.find((a) => a.path === p));
    const gres = get('etc/slurm/gres.conf');
    return { version: r.model?.slurm.version, slurmConf: get('etc/slurm/slurm.conf') ?? '', ...(gres ? { gresConf: gres } : {}), cgroupConf: get('etc/slurm/cgroup.conf') ?? '', errors: r.diagnostics.filter((d) => d.severity === 'error') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
