// Golden runbooks: for each kind of change to the condo example, the ordered after-apply steps herd prints. Each case edits a copy of
// clusters/condo, compiles both versions, and plans the edit against a target where the original was applied. Images and per-node overlays
// are stand-ins here (bytes seeded from what each depends on: the image's content knob, the node's address, MAC and overlay lists), so the
// cases run in milliseconds; the real builders are tested elsewhere. Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
// Each case runs for condo as it is (Slurm 22.05, goldens in condo/) and with slurm.version: "24.11" (goldens in condo-24.11/).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { artifactSet, type Artifact, type ArtifactSet } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { isChange } from '../../../src/plan/plan-types.ts';
import { renderNextStepsText } from '../../../src/plan/render-text.ts';
import { compileSpecAt } from '../../../src/pipeline.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';
import type { SlurmVersion } from '../../../src/spec/slurm-keys.ts';
import { diskOf, live, manifestOf } from '../../unit/plan/plan-fixtures.ts';
import { overlayArtifact, producedImage } from '../../unit/state/synthetic-artifacts.ts';

const root = new URL('../../../', import.meta.url).pathname;
const goldenDir = (version: SlurmVersion): string => new URL(version === '22.05' ? './condo/' : `./condo-${version}/`, import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1' && !process.env.CI;
const work = mkdtempSync(join(tmpdir(), 'herd-runbook-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Knobs {
  /** Content version of each image (a changed image is a new version). */
  readonly images?: Record<string, string>;
  readonly systemOverlays?: string;
  readonly runtimeOverlays?: string;
  /** Overlays could not be built this run: the set carries a pending prefix instead of them. */
  readonly overlaysPending?: boolean;
}

/** Stand-ins for the image and overlay artifacts herd builds, with the paths, impacts and node lists of the real ones. */
function builtArtifacts(model: ClusterModel, k: Knobs): Artifact[] {
  const out: Artifact[] = [];
  for (const name of Object.keys(model.images).sort()) {
    const nodes = model.nodes.filter((n) => n.image === name).map((n) => n.name);
    const img = producedImage(`var/lib/warewulf/provision/images/${name}.img`, `${name}@${k.images?.[name] ?? '1'}`, nodes, 1);
    out.push({ ...img, impact: { class: 'reboot', reason: `nodes booting image ${name} get it at their next boot` } });
  }
  if (k.overlaysPending) return out;
  for (const n of model.nodes) {
    const dir = `var/lib/warewulf/provision/overlays/${n.name}`;
    const sys = overlayArtifact(`${dir}/__SYSTEM__.img`, n.name, `sys|${n.name}|${n.address}|${n.mac}|${n.systemOverlays.join(',')}|${k.systemOverlays ?? '1'}`, 256);
    const rt = overlayArtifact(`${dir}/__RUNTIME__.img`, n.name, `rt|${n.name}|${n.runtimeOverlays.join(',')}|${k.runtimeOverlays ?? '1'}`, 256);
    out.push({ ...sys, overlay: { node: n.name, stage: 'system', overlays: [...n.systemOverlays] } });
    out.push({ ...rt, impact: { class: 'runtime-refresh', reason: `wwclient on ${n.name} applies the new __RUNTIME__ overlay` }, overlay: { node: n.name, stage: 'runtime', overlays: [...n.runtimeOverlays] } });
  }
  return out;
}

async function condoWith(edit: (spec: string, inventory: string) => [string, string], k: Knobs, tag: string, version: SlurmVersion): Promise<ArtifactSet> {
  const dir = join(work, `${tag}-${version}`);
  if (!existsSync(dir)) cpSync(join(root, 'clusters', 'condo'), dir, { recursive: true });
  const original = readFileSync(join(root, 'clusters/condo/cluster.yaml'), 'utf8');
  // 22.05 is the default: the spec as it is; other versions say so.
  const versioned = version === '22.05' ? original : original.replace(/^slurm:\n/m, `slurm:\n  version: "${version}"\n`);
  const [spec, inv] = edit(versioned, readFileSync(join(root, 'clusters/condo/inventory.csv'), 'utf8'));
  writeFileSync(join(dir, 'cluster.yaml'), spec);
  writeFileSync(join(dir, 'inventory.csv'), inv);
  const r = await compileSpecAt(dir, work, { images: false });
  expect(r.diagnostics.filter((d) => d.severity === 'error'), tag).toEqual([]);
  expect(r.model!.slurm.version).toBe(version);
  const pending = k.overlaysPending ? [{ prefix: 'var/lib/warewulf/provision/overlays/', reason: 'image rocky10-gpu is not cached offline' }] : [];
  // The compiled set carries the spec's Slurm version to the plan, as herd plan's does.
  return { ...artifactSet([...r.artifacts!.artifacts, ...builtArtifacts(r.model!, k)], pending), slurmVersion: r.artifacts!.slurmVersion! };
}

const same = (s: string, i: string): [string, string] => [s, i];
const sub = (from: string, to: string) => (s: string, i: string): [string, string] => {
  expect(s).toContain(from);
  return [s.replace(from, to), i];
};

interface Case {
  readonly name: string;
  readonly edit: (spec: string, inventory: string) => [string, string];
  readonly knobs?: Knobs;
  readonly before?: Knobs;
}

const GPU_RANGE = 'gpu[01-24]: { profiles: [gpu], address: 10.10.4.1 }';
const CASES: readonly Case[] = [
  { name: 'node-address', edit: sub(GPU_RANGE, 'gpu[01-23]: { profiles: [gpu], address: 10.10.4.1 }\n  gpu24: { profiles: [gpu], address: 10.10.4.124 }') },
  { name: 'node-address-overlays-pending', edit: sub(GPU_RANGE, 'gpu[01-23]: { profiles: [gpu], address: 10.10.4.1 }\n  gpu24: { profiles: [gpu], address: 10.10.4.124 }'), knobs: { overlaysPending: true }, before: { overlaysPending: true } },
  { name: 'node-mac', edit: (s, i) => [s, i.replace('gpu24,b8:ce:f6', 'gpu24,b8:ce:f7')] },
  { name: 'node-mac-overlays-pending', edit: (s, i) => [s, i.replace('gpu24,b8:ce:f6', 'gpu24,b8:ce:f7')], knobs: { overlaysPending: true }, before: { overlaysPending: true } },
  { name: 'node-added', edit: (s, i) => [s.replace('gpu[01-24]', 'gpu[01-25]'), `${i.trimEnd()}\ngpu25,b8:ce:f6:99:25:01,r3,SN-G00025\n`] },
  { name: 'node-removed', edit: (s, i) => [s.replace('gpu[01-24]', 'gpu[01-23]').replace('gpu[17-24]', 'gpu[17-23]'), i] },
  { name: 'image-changed', edit: same, knobs: { images: { 'rocky10-gpu': '2' } } },
  { name: 'overlay-system-changed', edit: same, knobs: { systemOverlays: '2' } },
  { name: 'overlay-runtime-changed', edit: same, knobs: { runtimeOverlays: '2' } },
  { name: 'partition-changed', edit: sub('chem: { nodes: "cpu[001-064]", max_time: "7-00:00:00"', 'chem: { nodes: "cpu[001-064]", max_time: "14-00:00:00"') },
  { name: 'gres-changed', edit: sub('gpus: { type: a100, count: 4 }', 'gpus: { type: a100, count: 8 }') },
  // No GPUs left: gres.conf goes, and cgroup.conf loses ConstrainDevices, which every slurmd reads only at start.
  { name: 'gpus-removed', edit: sub('    gpus: { type: a100, count: 4 }\n', '') },
];

/** The golden text: what changed (config files by path, archives counted) and the runbook. */
function goldenText(c: Case, plan: ReturnType<typeof planChanges>, version: SlurmVersion): string {
  const changes = plan.actions.filter(isChange);
  const files = changes.filter((a) => a.kind !== 'overlay' && a.kind !== 'image').map((a) => `  ${a.action} ${a.path}`);
  const overlays = changes.filter((a) => a.kind === 'overlay');
  const images = changes.filter((a) => a.kind === 'image');
  return [
    `# condo${version === '22.05' ? '' : ` (Slurm ${version})`}: ${c.name}`,
    'Changed:',
    ...files,
    ...(images.length ? [`  ${images.length} image(s): ${images.map((a) => a.path.split('/').pop()).join(', ')}`] : []),
    ...(overlays.length ? [`  ${overlays.length} overlay archive(s)`] : []),
    ...(plan.pending?.length ? [`  pending: ${plan.pending.map((p) => p.prefix).join(', ')}`] : []),
    '',
    renderNextStepsText(plan),
  ].join('\n');
}

for (const version of ['22.05', '24.11'] as const) {
  describe(`golden runbooks for each kind of change (condo, Slurm ${version})`, () => {
    for (const c of CASES) {
      it(c.name, async () => {
        const before = await condoWith(same, c.before ?? {}, `base-${c.name}`, version);
        const after = await condoWith(c.edit, c.knobs ?? {}, c.name, version);
        const plan = planChanges(after, manifestOf(before), live(await diskOf(before)));
        expect(plan.slurmVersion).toBe(version);
        const text = goldenText(c, plan, version);
        const here = goldenDir(version);
        const file = join(here, `${c.name}.txt`);
        if (update) {
          mkdirSync(here, { recursive: true });
          writeFileSync(file, text);
        }
        expect(text).toBe(readFileSync(file, 'utf8'));
      });
    }
  });
}
