// Regenerates docs/plan-sample.md (test/unit/docs-fresh.test.ts fails when the committed copy is stale): the markdown plan of a
// one-line change to clusters/lab, and a synthetic overlay-change plan. Deterministic: a scratch copy of the lab with an empty
// build cache and an empty head root (so the image and the overlays are pending for the same reasons on every machine), fixed
// clocks, no chown; only the scratch folder's path is taken out of the text.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { artifactSet, sha256Hex, type Artifact, type ArtifactSet } from '../src/artifacts/artifact.ts';
import { VERSION } from '../src/cli/main.ts';
import { compileSpecAt } from '../src/pipeline.ts';
import type { PlanMeta } from '../src/plan/plan-json.ts';
import { renderPlanMarkdown } from '../src/plan/render-markdown.ts';
import { applyPlan } from '../src/state/apply.ts';
import { openTarget } from '../src/state/target.ts';
import { overlayPair, type OverlayFileSpec } from '../test/unit/plan/overlay-fixtures.ts';

export const PLAN_SAMPLE_DOC = new URL('../docs/plan-sample.md', import.meta.url);
const LAB = fileURLToPath(new URL('../clusters/lab/', import.meta.url));
const NOW = () => new Date('2024-01-01T00:00:00Z');
const OLD_LINE = 'normal: { nodes: "c[1-2]", default: true, max_time: "2:00:00", priority_tier: 1 }';
const NEW_LINE = OLD_LINE.replace('"2:00:00"', '"4:00:00"');

async function applySet(root: string, set: ArtifactSet, cluster: string, specHash: string): Promise<void> {
  const s = await openTarget(root, set, { purpose: 'apply', command: 'gen-plan-sample', now: NOW });
  try {
    await applyPlan({
      root,
      dir: s.dir!,
      lock: s.lock!,
      desired: set,
      stored: s.stored,
      live: s.live,
      plan: s.plan,
      cluster,
      overwriteDrift: false,
      generation: { specHash, specCommit: null, herdVersion: VERSION },
      now: NOW,
      resolveOwner: () => undefined,
      fsync: false,
    });
  } finally {
    s.release();
  }
}

/** The state hash covers the recorded stat (inode, mtime) of every applied file, which differs on every run: a fixed stand-in is shown. */
async function planMarkdown(root: string, set: ArtifactSet, meta: Omit<PlanMeta, 'manifestHash'>): Promise<string> {
  const s = await openTarget(root, set, { purpose: 'plan', command: 'gen-plan-sample', now: NOW });
  s.release();
  if (s.stored.manifestHash === null) throw new Error(`nothing was applied to ${root}`);
  return renderPlanMarkdown(s.plan, { ...meta, manifestHash: sha256Hex(`state of ${meta.cluster}`) });
}

async function labSample(work: string): Promise<string> {
  const spec = join(work, 'lab');
  const head = join(work, 'head');
  mkdirSync(head);
  cpSync(join(LAB, 'cluster.yaml'), join(spec, 'cluster.yaml'));
  cpSync(join(LAB, 'overlays'), join(spec, 'overlays'), { recursive: true });
  const root = join(work, 'root');
  const options = { sourceDateEpoch: 0, headRoot: head, cacheDir: join(work, 'cache') };
  const before = await compileSpecAt(spec, work, options);
  if (!before.artifacts) throw new Error('clusters/lab does not compile');
  await applySet(root, before.artifacts, 'lab', before.specHash);
  const text = readFileSync(join(spec, 'cluster.yaml'), 'utf8');
  if (!text.includes(OLD_LINE)) throw new Error(`clusters/lab/cluster.yaml no longer has the line ${OLD_LINE}; update scripts/gen-plan-sample.ts`);
  writeFileSync(join(spec, 'cluster.yaml'), text.replace(OLD_LINE, NEW_LINE));
  const after = await compileSpecAt(spec, work, options);
  if (!after.artifacts) throw new Error('the changed lab does not compile');
  const md = await planMarkdown(root, after.artifacts, { herdVersion: VERSION, cluster: 'lab', root: '.herd/lab/root', specHash: after.specHash });
  return md.replaceAll(realpathSync(head), '').replaceAll(head, '');
}

const NM = (address: string) => `[connection]\nid=enp1s0\ntype=ethernet\ninterface-name=enp1s0\n\n[ipv4]\nmethod=manual\naddress1=${address}/24\ngateway=10.0.0.1\ndns=10.0.0.1\n`;
const NODES = ['c1', 'c2', 'c3', 'c4'];

async function lab4Set(v: 'A' | 'B'): Promise<ArtifactSet> {
  const address = (n: string, i: number) => (n === 'c2' && v === 'B' ? '10.0.0.9' : `10.0.0.${i + 2}`);
  const hosts = `127.0.0.1 localhost\n10.0.0.1 head\n${NODES.map((n, i) => `${address(n, i)} ${n}\n`).join('')}`;
  const arts: Artifact[] = [];
  for (const [i, n] of NODES.entries()) {
    const system: OverlayFileSpec[] = [
      { path: 'etc/hostname', content: `${n}\n`, origin: 'hostname' },
      { path: 'etc/NetworkManager/system-connections/enp1s0.nmconnection', content: NM(address(n, i)), mode: 0o600, origin: 'NetworkManager' },
      { path: 'etc/munge/munge.key', content: `munge-key-${n === 'c2' ? v : 'A'}`, mode: 0o400, uid: 990, hidden: 'secret', origin: 'slurm-node' },
    ];
    const sys = await overlayPair(n, 'system', system);
    const run = await overlayPair(n, 'runtime', [{ path: 'etc/hosts', content: hosts, origin: 'hosts' }]);
    arts.push(sys.img, sys.gz, run.img, run.gz);
  }
  return artifactSet(arts);
}

async function overlaySample(work: string): Promise<string> {
  const root = join(work, 'lab4');
  const specA = sha256Hex('lab4 spec A');
  await applySet(root, await lab4Set('A'), 'lab4', specA);
  return planMarkdown(root, await lab4Set('B'), { herdVersion: VERSION, cluster: 'lab4', root: 'root', specHash: sha256Hex('lab4 spec B') });
}

/** The whole of docs/plan-sample.md as it should be now. */
export async function renderPlanSample(): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'herd-plan-sample-'));
  try {
    const lab = await labSample(work);
    const overlays = await overlaySample(work);
    return [
      '# Sample: the plan of a one-line spec change, as a pull-request comment',
      '',
      '<!-- Generated by scripts/gen-plan-sample.ts (npm run gen:docs); edit the script, not this file. -->',
      '',
      'Generated with `herd plan clusters/lab --format markdown` (the renderer in `src/plan/render-markdown.ts`) after applying `clusters/lab` to its default local root and then changing one line of the spec:',
      '',
      '```diff',
      `-    ${OLD_LINE}`,
      `+    ${NEW_LINE}`,
      '```',
      '',
      "The machine it ran on has no registry cache, no Warewulf install and none of the head's keys, so the image and the nodes' overlays are pending: the comment lists them with their reasons, counts them (`--detailed-exitcode` exits 2 while anything is pending), and the target keeps what was last applied there.",
      '',
      "Everything below the line is the comment body exactly as herd prints it, except the state hash in the last line: the real one covers the applied files' inode numbers and times, so it differs on every run, and a fixed stand-in keeps this page stable.",
      '',
      '---',
      '',
      lab.trimEnd(),
      '',
      '---',
      '',
      '# Sample: overlay changes, one entry per identical change',
      '',
      "A four-node cluster where `c2` moves from 10.0.0.3 to 10.0.0.9 and gets a new munge key. Its `__SYSTEM__` overlay shows the NetworkManager keyfile as a text diff and the munge key by hash only; the `/etc/hosts` change, the same on every node, is one `__RUNTIME__` entry for `c[1-4]`; each `.img.gz` is folded into its `.img`. The overlay archives are synthetic (built with herd's cpio writer by `test/unit/plan/overlay-fixtures.ts`, applied to a scratch root, then planned against the next version), so the hashes are the fixtures' (the state hash is a stand-in, as above).",
      '',
      '---',
      '',
      overlays.trimEnd(),
      '',
    ].join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PLAN_SAMPLE_DOC, await renderPlanSample());
  console.log(`wrote ${PLAN_SAMPLE_DOC.pathname}`);
}
