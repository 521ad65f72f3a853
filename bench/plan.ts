// Plan benchmark (I/O): a no-op plan of 10,000 nodes' artifacts against the floor of merely sha256-ing the same files, plus the lab spec end to end.
// Budget: no-op plan ≤ 3× the hash floor, and a no-op `herd plan` of the lab spec (compile included) under 1 s. Run: node --import tsx bench/plan.ts [nodes]
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { summarizePlan } from '../src/plan/plan-types.ts';
import { renderPlanText } from '../src/plan/render-text.ts';
import { targetPathOf } from '../src/state/paths.ts';
import { openTarget } from '../src/state/target.ts';
import { manyNodesSet } from '../test/unit/state/synthetic-artifacts.ts';
import { applyTo } from '../test/unit/state/target-helpers.ts';

const NODES = Number(process.argv[2] ?? 10_000);
const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function medianOf(fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timed(fn));
  return median(times);
}

const dir = mkdtempSync(join(tmpdir(), 'herd-bench-plan-'));
let failed = false;
try {
  const set = manyNodesSet(NODES);
  const root = join(dir, 'root');
  const totalBytes = set.artifacts.reduce((n, a) => n + a.size, 0);
  // Durability is not what is measured here; fsync of 10,000 files would only slow the setup.
  const applyMs = await timed(() => applyTo(root, set, { fsync: false }));
  await new Promise((r) => setTimeout(r, 50));

  let hashed = 0;
  let changes = 0;
  const planMs = await medianOf(async () => {
    const stats = { hashed: 0, statted: 0 };
    const s = await openTarget(root, set, { purpose: 'plan', command: 'bench', stats });
    s.release();
    renderPlanText(s.plan, { herdVersion: 'bench', cluster: 'bench', root, specHash: '0'.repeat(64), manifestHash: s.stored.manifestHash }, { color: false });
    hashed = stats.hashed;
    changes = summarizePlan(s.plan).changesPresent ? 1 : 0;
  });
  const floorMs = await medianOf(() => {
    for (const a of set.artifacts) createHash('sha256').update(readFileSync(targetPathOf(root, a.path))).digest('hex');
  });
  const ratio = planMs / floorMs;

  // The lab spec end to end through main(): compile + lock + scan + plan + render.
  const labDir = join(dir, 'lab-spec');
  cpSync(fileURLToPath(new URL('../clusters/lab', import.meta.url)), join(labDir, 'lab'), { recursive: true });
  const io = () => ({ stdin: Readable.from([]), stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {}, cwd: labDir });
  const applied = await main(['apply', 'lab', '--yes'], io());
  const labCodes: number[] = [];
  let applyNeeded = false;
  const labMs = await medianOf(async () => {
    // The lab's docker:// image is not pulled and no head files are here: its image and overlays are pending, so the plan
    // exits 2 with nothing to apply; a no-op is "applyNeeded: false", whatever is pending.
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    labCodes.push(await main(['plan', 'lab', '--detailed-exitcode', '--format', 'json'], { ...io(), stdout: out }));
    // The JSON envelope (formatVersion, diagnostics, result): nothing to apply is no create, update, delete or drift.
    const { result } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: { summary?: Record<string, number> } };
    const s = result?.summary;
    if (!s) throw new Error('bench/plan.ts: herd plan --format json printed no result.summary');
    applyNeeded ||= s.create! + s.update! + s.delete! + s.drift! > 0;
  });

  const row = (name: string, ms: number, note = '') => console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${note}`);
  console.log(`herd plan benchmark: ${NODES} nodes, ${set.artifacts.length} artifacts, ${(totalBytes / 1024 / 1024).toFixed(1)} MiB; median of ${RUNS}`);
  row('apply to an empty root (setup, no fsync)', applyMs);
  row('sha256 of every file (floor)', floorMs);
  row('no-op plan (lock, manifest, scan, plan, render)', planMs, `${hashed} file(s) re-hashed, ${changes ? 'CHANGES (unexpected)' : 'no changes'}`);
  row('no-op herd plan of clusters/lab (with compile)', labMs, `exit codes ${[...new Set(labCodes)].join(',')} (apply exit ${applied})`);
  console.log(`ratio no-op plan / hash floor: ${ratio.toFixed(2)} (budget ≤ 3)`);
  if (ratio > 3) {
    console.log('OVER BUDGET: the no-op plan is more than 3× the hash floor');
    failed = true;
  }
  if (labMs >= 1000 || applyNeeded || labCodes.some((c) => c !== 0 && c !== 2)) {
    console.log('OVER BUDGET: the lab no-op plan took 1 s or more, or was not a no-op');
    failed = true;
  }
  if (changes) failed = true;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
