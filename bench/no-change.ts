// Whole-process budget (issue 17): a no-change `herd plan` and `herd build --out` of a cluster WITH an image (a dir: source of
// 20,000 files plus a kernel) and both nodes' overlays, after one apply, each under 1 s; printed next to `node -e 0` measured
// alternately in the same run, median of several runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeHeadRoot, warewulfOracleDir } from '../test/fixtures/head-root.ts';
import { writeStubRootfs } from '../test/fixtures/stub-rootfs.ts';

const BUDGET_S = 1;
const RUNS = 5;
const FILES = 20_000;
const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin/herd.js');

const scratch = mkdtempSync(join(tmpdir(), 'herd-bench-nochange-'));
const head = makeHeadRoot({ install: warewulfOracleDir() !== undefined });
try {
  const spec = join(scratch, 'cluster');
  const rootfs = join(spec, 'rootfs');
  writeStubRootfs(rootfs);
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(rootfs, 'usr/share', `d${d}`), { recursive: true });
    for (let f = 0; f < FILES / 100; f++) writeFileSync(join(rootfs, 'usr/share', `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(20));
  }
  writeFileSync(join(spec, 'cluster.yaml'), `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: bench
warewulf: { version: "4.6.5", layout: upstream }
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0 }
images:
  img: { source: "dir:rootfs", pins: { munge: 995 }, requires: [slurmd, munged] }
defaults: { image: img, memory: 4GiB, cpus: 2 }
nodes:
  c1: { mac: "52:54:00:12:34:56", address: 10.9.0.2 }
  c2: { mac: "52:54:00:12:34:57", address: 10.9.0.3 }
slurm: { partitions: { normal: { nodes: "c[1-2]", default: true } } }
`);
  const env = { ...process.env, HERD_HEAD_ROOT: head, SOURCE_DATE_EPOCH: '1700000000', XDG_CACHE_HOME: join(scratch, 'cache') };
  const run = (args: readonly string[]): { s: number; code: number | null } => {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: scratch, stdio: 'ignore', env });
    return { s: Number(process.hrtime.bigint() - t) / 1e9, code: r.status };
  };
  const out = join(scratch, 'out');
  const cases: Record<string, string[]> = { floor: ['-e', '0'], plan: [bin, 'plan', spec], build: [bin, 'build', spec, '--out', out] };
  // The first apply builds the image and overlays and fills the caches; the first build --out writes the tree once.
  const first = run([bin, 'apply', spec, '--yes']);
  if (first.code !== 0) throw new Error(`herd apply exited ${first.code}`);
  run(cases.build!);
  const times: Record<string, number[]> = { floor: [], plan: [], build: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [name, args] of Object.entries(cases)) {
      const r = run(args);
      if (name === 'plan' && r.code !== 0) throw new Error(`no-change herd plan exited ${r.code} (expected 0: nothing to apply)`);
      times[name]!.push(r.s);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const floor = median(times.floor!);
  console.log(`no-change commands with an image (${FILES.toLocaleString('en')} files) and 2 nodes' overlays, whole process, median of ${RUNS}: node -e 0 ${floor.toFixed(3)} s`);
  for (const name of ['plan', 'build']) {
    const s = median(times[name]!);
    const spread = `${Math.min(...times[name]!).toFixed(3)}-${Math.max(...times[name]!).toFixed(3)} s`;
    console.log(`  herd ${name.padEnd(5)} ${s.toFixed(3)} s (runs ${spread})  ${(s / floor).toFixed(1)}x floor  budget < ${BUDGET_S} s  ${s < BUDGET_S ? 'OK' : 'OVER'}`);
  }
} finally {
  // HERD_BENCH_KEEP=1 keeps the cluster and the head root, to profile a no-change run by hand with the env printed here.
  if (process.env.HERD_BENCH_KEEP) console.log(`kept ${scratch}: cd ${scratch} && HERD_HEAD_ROOT=${head} SOURCE_DATE_EPOCH=1700000000 XDG_CACHE_HOME=${join(scratch, 'cache')} node ${bin} plan cluster`);
  else {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(head, { recursive: true, force: true });
  }
}
