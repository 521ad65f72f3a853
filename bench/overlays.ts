// Benchmark (overlays): every node's __SYSTEM__ and __RUNTIME__ overlay for BENCH_NODES (default 10,000) nodes, against floors
// measured in the same run: the cold build vs gzip -6 of the archive bytes alone, its peak RSS, a no-change rebuild (in-process
// and as `herd build --out`, against `node -e 0`), and Warewulf 4.6.5's own `wwctl overlay build` of BENCH_WW_NODES (1,000).
// Run: node --import tsx bench/overlays.ts   env: BENCH_NODES, BENCH_RUNS (3), BENCH_WW_NODES, BENCH_WW_RUNS (1), BENCH_REBUILD_CAP_S (5)
// Each in-process build runs in a child process (the cold build first, so its peak RSS is its own). Whole-process runs use
// bin/herd.js over a fresh bundle of src/ made by scripts/bundle.mjs in the scratch folder (npm test rebuilds the shared dist/
// while others work).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeStubRootfs } from '../test/fixtures/stub-rootfs.ts';
import { parse as parseYaml } from 'yaml';

const SDE = 1_700_000_000;
const BUDGET_COLD = 2;
const BUDGET_REBUILD_S = 1;
const repo = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const envInt = (name: string, dflt: number): number => (process.env[name] && /^\d+$/.test(process.env[name]!) ? Number(process.env[name]) : dflt);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const cacheOf = (specDir: string, name: string): string => join(specDir, '.herd', name, 'cache');

/** A spec folder: a dir: rootfs just big enough for the image checks, an inventory of `n` MACs, and the cluster.yaml. */
function writeSpec(dir: string, name: string, n: number): void {
  const put = (rel: string, body: string | Buffer, mode = 0o644): void => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body, { mode });
  };
  writeStubRootfs(join(dir, 'rootfs'));
  const width = Math.max(5, String(n).length);
  const host = (i: number): string => `n${String(i).padStart(width, '0')}`;
  const mac = (i: number): string => `02:00:${[24, 16, 8, 0].map((s) => ((i >>> s) & 255).toString(16).padStart(2, '0')).join(':')}`;
  const rows = ['name,mac'];
  for (let i = 1; i <= n; i++) rows.push(`${host(i)},${mac(i)}`);
  put('inventory.csv', `${rows.join('\n')}\n`);
  const range = n === 1 ? host(1) : `n[${host(1).slice(1)}-${host(n).slice(1)}]`;
  const image = `images:\n  img:\n    source: dir:rootfs\n    requires: [slurmd, munged]\ndefaults: { image: img, memory: 4GiB, cpus: 2 }\n`;
  const head = `apiVersion: herd.dev/v1alpha1\nkind: Cluster\nname: ${name}\nwarewulf: { version: "4.6.5", layout: upstream }\nhead: { name: head, address: 10.1.0.1 }\nnetwork: { cidr: 10.1.0.0/16, interface: eth0 }\n`;
  put('cluster.yaml', `${head}inventory: inventory.csv\n${image}nodes:\n  ${range}: { address: 10.1.1.1 }\nslurm:\n  partitions:\n    all: { nodes: "${range}", default: true }\n`);
  // One node, same image and cache: builds the image before the timed runs (the image key does not depend on the nodes).
  put('warm.yaml', `${head}${image}nodes:\n  ${host(1)}: { address: 10.1.1.1, mac: "${mac(1)}" }\n`);
}

interface ChildReport {
  readonly coldS: number;
  readonly maxRssMiB: number;
  readonly built: number;
  readonly archives: number;
  readonly imgBytes: number;
  readonly gzBytes: number;
  readonly noChangeS?: number;
  readonly floor?: { readonly distinct: number; readonly distinctBytes: number; readonly distinctS: number; readonly everyS: number; readonly gzipBytes: number; readonly herdGzBytes: number };
}

/** In a child: a cold overlay build (image cached), then optionally a no-change rebuild and the gzip floor of its archives. */
async function child(specDir: string, head: string, full: boolean): Promise<void> {
  const { compileSpecAt } = await import('../src/pipeline.ts');
  type Result = Awaited<ReturnType<typeof compileSpecAt>>;
  const compile = async (): Promise<{ r: Result; s: number; built: number }> => {
    const t0 = process.hrtime.bigint();
    const r = await compileSpecAt(specDir, specDir, { headRoot: head, sourceDateEpoch: SDE });
    const s = secs(t0);
    const line = r.imageSummary?.find((l) => l.startsWith('overlays:')) ?? '';
    const bad = r.diagnostics.filter((d) => d.severity === 'error' || d.rule === 'overlay/pending');
    if (!r.artifacts || bad.length > 0 || !/ 0 pending/.test(line)) throw new Error(`the bench spec did not build: ${line}\n${(bad.length ? bad : r.diagnostics).map((d) => `${d.rule}: ${d.message}`).join('\n')}`);
    return { r, s, built: Number(/(\d+) built/.exec(line)?.[1] ?? -1) };
  };
  rmSync(join(cacheOf(specDir, 'bench'), 'overlays', 'index.json'), { force: true });
  let report = await (async (): Promise<ChildReport> => {
    const cold = await compile();
    const maxRssMiB = process.resourceUsage().maxRSS / 1024;
    if (cold.built === 0) throw new Error('the cold build reused cached overlays');
    const overlays = cold.r.artifacts!.artifacts.filter((a) => a.kind === 'overlay');
    const sum = (suffix: string): number => overlays.filter((a) => a.path.endsWith(suffix)).reduce((s, a) => s + a.size, 0);
    return { coldS: cold.s, maxRssMiB, built: cold.built, archives: overlays.length / 2, imgBytes: sum('.img'), gzBytes: sum('.img.gz') };
  })();
  if (full) {
    const again = await compile();
    if (again.built !== 0) throw new Error(`the no-change rebuild built ${again.built} overlays`);
    // The floor: gzip -6 of each distinct .img as produce() makes it (identical archives, e.g. every node's __RUNTIME__ here,
    // are one archive to herd; their copies are counted at the time their one gzip took).
    const distinct = new Map<string, { bytes: Buffer; copies: number; herdGz: number }>();
    const gzSize = new Map(again.r.artifacts!.artifacts.filter((a) => a.overlay?.gzipOf).map((a) => [a.overlay!.gzipOf!, a.size]));
    for (const a of again.r.artifacts!.artifacts) {
      if (a.kind !== 'overlay' || !a.path.endsWith('.img')) continue;
      let d = distinct.get(a.sha256);
      if (d === undefined) {
        const chunks: Buffer[] = [];
        for await (const c of a.produce!()) chunks.push(Buffer.from(c)); // copied: the cpio writer reuses its batch buffer
        d = { bytes: Buffer.concat(chunks), copies: 0, herdGz: gzSize.get(a.path) ?? 0 };
        distinct.set(a.sha256, d);
      }
      d.copies++;
    }
    (again as { r?: Result }).r = undefined;
    (globalThis as { gc?: () => void }).gc?.();
    let distinctS = 0;
    let everyS = 0;
    let gzipBytes = 0;
    // Archives standing for many copies first: after thousands of small gzip calls, a large one was measured 2-4x slower in the
    // same process (same bytes), and that slowdown would be multiplied by the copies.
    const order = [...distinct.values()].sort((a, b) => b.copies - a.copies);
    gzipSync(order[0]!.bytes, { level: 6 }); // warm-up
    for (const d of order) {
      const t0 = process.hrtime.bigint();
      gzipBytes += gzipSync(d.bytes, { level: 6 }).length;
      let s = secs(t0);
      distinctS += s;
      // An archive standing for many copies is timed five times more and the fastest counts, so one slow call (a GC thread,
      // another process on the machine) is not multiplied by thousands.
      for (let k = 0; d.copies > 1 && k < 5; k++) {
        const t1 = process.hrtime.bigint();
        gzipSync(d.bytes, { level: 6 });
        s = Math.min(s, secs(t1));
      }
      everyS += s * d.copies;
    }
    const vs = [...distinct.values()];
    report = { ...report, noChangeS: again.s, floor: { distinct: vs.length, distinctBytes: vs.reduce((s, d) => s + d.bytes.length, 0), distinctS, everyS, gzipBytes, herdGzBytes: vs.reduce((s, d) => s + d.herdGz, 0) } };
  }
  process.stdout.write(JSON.stringify(report));
}

function runChild(specDir: string, head: string, full: boolean): ChildReport {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', specDir, head, full ? 'full' : 'cold'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child exited ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout) as ChildReport;
}

/** bin/herd.js over a fresh bundle of src/, made by the repository's own scripts/bundle.mjs (npm run build) in `dir`. */
function bundleHerd(dir: string): string {
  mkdirSync(dir);
  for (const d of ['bin', 'scripts']) cpSync(join(repo, d), join(dir, d), { recursive: true });
  copyFileSync(join(repo, 'package.json'), join(dir, 'package.json'));
  for (const d of ['src', 'node_modules']) symlinkSync(join(repo, d), join(dir, d));
  const r = spawnSync(process.execPath, [join(dir, 'scripts/bundle.mjs')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/bundle.mjs exited ${r.status ?? r.signal}`);
  return join(dir, 'bin/herd.js');
}

/** Wall seconds of a process; undefined when it ran past `capS` (then it is killed). Throws on failure. */
function timeProcess(cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; capS?: number }): number | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20, ...(opts.capS ? { timeout: opts.capS * 1000, killSignal: 'SIGKILL' as const } : {}) });
  const s = secs(t0);
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return undefined;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr.slice(-2000)}`);
  return s;
}

const verdict = (ok: boolean): string => (ok ? 'OK' : 'OVER');
const runsOf = (n: number): string => (n === 1 ? '1 run' : `median of ${n}`);

async function main(): Promise<void> {
  const N = envInt('BENCH_NODES', 10_000);
  const RUNS = Math.max(1, envInt('BENCH_RUNS', 3));
  const WW_NODES = envInt('BENCH_WW_NODES', 1000);
  const WW_RUNS = Math.max(1, envInt('BENCH_WW_RUNS', 1));
  const CAP = envInt('BENCH_REBUILD_CAP_S', 5);
  const started = process.hrtime.bigint();
  const { makeHeadRoot, warewulfOracleDir } = await import('../test/fixtures/head-root.ts');
  if (!warewulfOracleDir()) {
    console.log('overlays: skipped: the Warewulf 4.6.5 tarball (wwinit/wwclient for the head root) is not available; set HERD_WW_ORACLE');
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'herd-bench-overlays-'));
  let headDir: string | undefined;
  try {
    const head = makeHeadRoot();
    headDir = head;
    const bin = bundleHerd(join(scratch, 'herd'));
    const big = join(scratch, 'big');
    writeSpec(big, 'bench', N);
    const { compileSpecAt } = await import('../src/pipeline.ts');
    const warm = await compileSpecAt(join(big, 'warm.yaml'), scratch, { headRoot: head, sourceDateEpoch: SDE });
    if (!warm.artifacts) throw new Error(`the warm-up spec did not build: ${warm.diagnostics.map((d) => d.message).join('; ')}`);
    const [l1] = loadavg();
    console.log(`overlays: ${N} nodes (one range, MACs from an inventory CSV, a /16, one partition), Warewulf 4.6.5 wwinit/wwclient; ${availableParallelism()} cores, load ${l1!.toFixed(1)}; median of ${RUNS}`);
    console.log("  note: Warewulf's wwclient binary is absent from the oracle-built install (it cannot be built offline), so each __SYSTEM__ is a few KiB of configuration here, not ~10 MB");

    // 1-3 in-process: cold build (fresh overlay cache), its peak RSS, a no-change rebuild, and the gzip floor.
    const runs: ChildReport[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(runChild(big, head, true));
    const r0 = runs[0]!;
    const f0 = r0.floor!;
    const cold = median(runs.map((r) => r.coldS));
    const floorDistinct = median(runs.map((r) => r.floor!.distinctS));
    const floorEvery = median(runs.map((r) => r.floor!.everyS));
    console.log(`\n1. cold build of both overlays (compileSpecAt; image cached, overlay cache deleted): ${r0.archives} archives, ${r0.built} distinct built`);
    console.log(`   .img bytes: ${mib(r0.imgBytes)} in all ${r0.archives} archives, ${mib(f0.distinctBytes)} in the ${f0.distinct} distinct ones (every __RUNTIME__ is the same archive here)`);
    console.log(`   herd cold build                     ${cold.toFixed(2).padStart(7)} s   (runs: ${runs.map((r) => r.coldS.toFixed(2)).join(', ')})`);
    console.log(`   floor: gzip -6 of distinct .img     ${floorDistinct.toFixed(2).padStart(7)} s   ${(cold / floorDistinct).toFixed(2)}x floor  budget ≤ ${BUDGET_COLD}x  ${verdict(cold / floorDistinct <= BUDGET_COLD)}`);
    console.log(`   floor: gzip -6 of every .img        ${floorEvery.toFixed(2).padStart(7)} s   ${(cold / floorEvery).toFixed(2)}x floor  budget ≤ ${BUDGET_COLD}x  ${verdict(cold / floorEvery <= BUDGET_COLD)}  (an archive with copies is timed once (fastest of 6) and counted per copy)`);
    console.log(`   gzip sizes of the distinct archives: herd ${mib(f0.herdGzBytes)}, zlib.gzipSync -6 ${mib(f0.gzipBytes)}`);

    const rss = median(runs.map((r) => r.maxRssMiB));
    console.log(`\n2. peak RSS of the cold build: ${rss.toFixed(0)} MiB (runs: ${runs.map((r) => r.maxRssMiB.toFixed(0)).join(', ')}), for ${mib(r0.imgBytes)} of .img in all archives: ${(rss / (r0.imgBytes / 2 ** 20)).toFixed(3)} MiB per MiB`);

    const noChange = median(runs.map((r) => r.noChangeS!));
    const nodeFloor = median(Array.from({ length: RUNS }, () => timeProcess(process.execPath, ['-e', '0'], { cwd: scratch })!));
    const env = { ...process.env, HERD_HEAD_ROOT: head, SOURCE_DATE_EPOCH: String(SDE) };
    const build = (spec: string, out: string, capS?: number): number | undefined => timeProcess(process.execPath, [bin, 'build', spec, '--out', out], { cwd: scratch, env, ...(capS ? { capS } : {}) });
    console.log(`\n3. no-change rebuild (overlay cache warm, same spec):`);
    console.log(`   in-process compileSpecAt            ${noChange.toFixed(2).padStart(7)} s   ${(noChange / cold).toFixed(2)}x the cold build  (runs: ${runs.map((r) => r.noChangeS!.toFixed(2)).join(', ')})`);
    console.log(`   node -e 0                           ${nodeFloor.toFixed(3).padStart(7)} s`);
    const whole: number[] = [];
    const first = build(big, join(scratch, 'out-big'), CAP);
    if (first === undefined) console.log(`   herd build --out (whole process)    > ${CAP} s (stopped at BENCH_REBUILD_CAP_S)   > ${(CAP / nodeFloor).toFixed(0)}x node -e 0  budget < ${BUDGET_REBUILD_S} s  OVER`);
    else {
      whole.push(first);
      for (let i = 1; i < RUNS; i++) whole.push(build(big, join(scratch, 'out-big'))!);
      const w = median(whole);
      console.log(`   herd build --out (whole process)    ${w.toFixed(2).padStart(7)} s   ${(w / nodeFloor).toFixed(1)}x node -e 0  budget < ${BUDGET_REBUILD_S} s  ${verdict(w < BUDGET_REBUILD_S)}`);
    }
    rmSync(join(scratch, 'out-big'), { recursive: true, force: true });

    // 4. Warewulf's own overlay build of WW_NODES nodes, from the nodes.conf herd writes for the same spec.
    const oracle = warewulfOracleDir()!;
    const wwBin = join(process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle', 'bin/wworacle');
    console.log(`\n4. Warewulf 4.6.5 \`wwctl overlay build\` vs herd, ${WW_NODES} nodes:`);
    if (!existsSync(wwBin) || !existsSync(join(oracle, 'run.sh'))) {
      console.log(`   skipped: the Warewulf oracle binary ${wwBin} is missing (bash ${join(oracle, 'build.sh')} builds it)`);
    } else {
      const small = join(scratch, 'small');
      writeSpec(small, 'bench', WW_NODES);
      const w = await compileSpecAt(join(small, 'warm.yaml'), scratch, { headRoot: head, sourceDateEpoch: SDE });
      if (!w.artifacts) throw new Error('the warm-up spec did not build');
      const herdRuns = Array.from({ length: RUNS }, () => runChild(small, head, false));
      const herdCold = median(herdRuns.map((r) => r.coldS));
      const out = join(scratch, 'out-small');
      // Whole process, cold overlay cache, writing every archive like wwctl does.
      const herdWhole = median(
        Array.from({ length: WW_RUNS }, () => {
          rmSync(join(cacheOf(small, 'bench'), 'overlays', 'index.json'), { force: true });
          rmSync(out, { recursive: true, force: true });
          return build(small, out)!;
        }),
      );
      const rebuildSmall = median(Array.from({ length: WW_RUNS }, () => build(small, out)!));
      // Stand-ins for herd's own overlays that Warewulf does not ship (as verify.sh does for slurm-node).
      const conf = parseYaml(readFileSync(join(out, 'etc/warewulf/nodes.conf'), 'utf8')) as { nodeprofiles?: Record<string, Record<string, unknown>>; nodes?: Record<string, Record<string, unknown>> };
      const names = new Set<string>();
      for (const o of [...Object.values(conf.nodeprofiles ?? {}), ...Object.values(conf.nodes ?? {})]) for (const k of ['system overlay', 'runtime overlay']) for (const n of (o[k] as string[] | undefined) ?? []) names.add(n);
      const stock = new Set(readdirSync(join(process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle', 'root/usr/share/warewulf/overlays')));
      const site = join(scratch, 'ww-site');
      const standIns = [...names].filter((n) => !stock.has(n)).sort();
      for (const n of standIns) mkdirSync(join(site, n, 'rootfs'), { recursive: true });
      mkdirSync(site, { recursive: true });
      const wwRuns = Array.from({ length: WW_RUNS }, (_, i) => {
        const wwOut = join(scratch, `ww-out-${i}`);
        const s = timeProcess('bash', [join(oracle, 'run.sh'), 'overlay-build', join(out, 'etc/warewulf/nodes.conf'), site, wwOut], { cwd: scratch })!;
        const made = readdirSync(join(wwOut, 'overlays')).length;
        if (made !== WW_NODES) throw new Error(`Warewulf built overlays for ${made} of ${WW_NODES} nodes`);
        rmSync(wwOut, { recursive: true, force: true });
        return s;
      });
      const ww = median(wwRuns);
      console.log(`   empty stand-ins for herd's overlays Warewulf lacks: ${standIns.join(', ') || 'none'}; herd's .img of ${WW_NODES} nodes: ${mib(herdRuns[0]!.imgBytes)}`);
      console.log(`   wwctl overlay build (whole process) ${ww.toFixed(2).padStart(7)} s   (${runsOf(WW_RUNS)}; writes .img and .img.gz per node)`);
      console.log(`   herd build --out, cold cache        ${herdWhole.toFixed(2).padStart(7)} s   ${(herdWhole / ww).toFixed(3)}x Warewulf  (${runsOf(WW_RUNS)}; whole process, writes .img and .img.gz per node)`);
      console.log(`   herd compileSpecAt, cold cache      ${herdCold.toFixed(2).padStart(7)} s   ${(herdCold / ww).toFixed(3)}x Warewulf  (${runsOf(RUNS)}; in-process, hashes the archives, writes none); peak RSS ${median(herdRuns.map((r) => r.maxRssMiB)).toFixed(0)} MiB`);
      console.log(`   herd build --out, no change         ${rebuildSmall.toFixed(2).padStart(7)} s   ${(rebuildSmall / nodeFloor).toFixed(1)}x node -e 0  budget < ${BUDGET_REBUILD_S} s  ${verdict(rebuildSmall < BUDGET_REBUILD_S)}  (${runsOf(WW_RUNS)})`);
      const r1k = median(herdRuns.map((r) => r.maxRssMiB));
      console.log(`   peak RSS ${WW_NODES} -> ${N} nodes: ${r1k.toFixed(0)} -> ${rss.toFixed(0)} MiB (x${(rss / r1k).toFixed(1)}) while .img bytes grow ${mib(herdRuns[0]!.imgBytes)} -> ${mib(r0.imgBytes)} (x${(r0.imgBytes / herdRuns[0]!.imgBytes).toFixed(1)})`);
    }
    console.log(`\noverlays bench: ${secs(started).toFixed(0)} s`);
  } finally {
    if (headDir) rmSync(headDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1]!, process.argv[i + 2]!, process.argv[i + 3] === 'full');
else await main();
