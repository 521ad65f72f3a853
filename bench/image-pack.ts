// Benchmark (I/O): herd's directory → .img.gz packer against `find | cpio -o -H newc | gzip -6` and `… | pigz -6`.
// Run: node --import tsx bench/image-pack.ts [--runs N] [--dir /tmp/herd-bench-rootfs] [--regen] [--gen-only]
//        [--skip-gzip] [--workers N] [--block-size BYTES]
// The rootfs (≥ 1 GiB, ≥ 50,000 files) is generated once, deterministically, and cached under --dir. Each run times
// herd in a child process (so its peak RSS, worker threads included, is its own), then the two shell pipelines.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, linkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const GEN_VERSION = 'v2 files=52000 seed=20250101';

/** mulberry32: a tiny seeded PRNG, so the tree is identical on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Text-like material: lines of syllable words with a skewed vocabulary, some repeated lines (compresses to ~37%). */
function textPool(rand: () => number, bytes: number): Buffer {
  const syl = ['th', 'er', 'on', 'an', 're', 'he', 'in', 'ed', 'nd', 'ha', 'at', 'en', 'es', 'of', 'or', 'nt', 'ea', 'ti', 'to', 'it', 'st', 'io', 'le', 'is', 'ou', 'ar', 'as', 'de', 'rt', 've', 'con', 'fig', 'set', 'get', 'pro', 'file', 'user', 'lib', 'src', 'dir'];
  const vocab: string[] = [];
  for (let i = 0; i < 12000; i++) {
    let w = '';
    const n = 1 + Math.floor(rand() * 4);
    for (let j = 0; j < n; j++) w += syl[Math.floor(rand() * syl.length)];
    vocab.push(w);
  }
  const out = Buffer.allocUnsafe(bytes);
  const bank: string[] = [];
  let off = 0;
  while (off < bytes) {
    if (bank.length > 3000 && rand() < 0.35) {
      off += out.write(bank[Math.floor(bank.length * rand() ** 2)]!, off);
      continue;
    }
    let line = rand() < 0.3 ? '    ' : '';
    const words = 3 + Math.floor(rand() * 10);
    for (let j = 0; j < words; j++) line += vocab[Math.floor(vocab.length * rand() ** 2)] + (j + 1 < words ? (rand() < 0.1 ? '_' : ' ') : '\n');
    if (bank.length < 4000) bank.push(line);
    off += out.write(line, off);
  }
  return out;
}

/** Binary-like material: a skewed vocabulary of short byte tokens, zero runs and a little noise (compresses to ~31%, like ELF files). */
function binaryPool(rand: () => number, bytes: number): Buffer {
  const tokens: Buffer[] = [];
  for (let i = 0; i < 4000; i++) {
    const t = Buffer.allocUnsafe(1 + Math.floor(rand() * 10));
    for (let j = 0; j < t.length; j++) t[j] = rand() < 0.3 ? 0 : Math.floor(256 * rand() * rand());
    tokens.push(t);
  }
  const out = Buffer.alloc(bytes);
  let off = 0;
  while (off < bytes) {
    const r = rand();
    if (r < 0.06) {
      off += 16 + Math.floor(rand() * 200);
    } else if (r < 0.11) {
      const n = Math.min(bytes - off, 8 + Math.floor(rand() * 64));
      for (let i = 0; i < n; i++) out[off + i] = Math.floor(rand() * 256);
      off += n;
    } else {
      const t = tokens[Math.floor(tokens.length * rand() ** 2.5)]!;
      off += t.copy(out, off, 0, Math.min(t.length, bytes - off));
    }
  }
  return out;
}

/** Writes the tree: ~52,000 files in ~2,000 dirs, log-uniform sizes 64 B – 160 KiB plus a few 16 MiB files, some links. */
function generateRootfs(root: string): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const rand = prng(20250101);
  const pools = [textPool(rand, 48 << 20), binaryPool(rand, 48 << 20)] as const;
  const tops = ['usr/bin', 'usr/lib', 'usr/lib64', 'usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/libexec', 'etc', 'opt/app', 'var/lib'];
  const dirs: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const top = tops[Math.floor(rand() * tops.length)]!;
    const depth = 1 + Math.floor(rand() * 3);
    let d = top;
    for (let j = 0; j < depth; j++) d += `/d${Math.floor(rand() * (j === 0 ? 60 : 8))}`;
    dirs.push(d);
  }
  for (const d of new Set(dirs)) mkdirSync(join(root, d), { recursive: true });
  let total = 0;
  const files: string[] = [];
  const write = (rel: string, size: number, text: boolean): void => {
    const pool = text ? pools[0] : pools[1];
    const start = Math.floor(rand() * (pool.length - size));
    writeFileSync(join(root, rel), pool.subarray(start, start + size), { mode: text ? 0o644 : 0o755 });
    files.push(rel);
    total += size;
  };
  for (let i = 0; i < 52000; i++) {
    const size = Math.floor(Math.exp(Math.log(64) + rand() * (Math.log(160 * 1024) - Math.log(64))));
    write(`${dirs[Math.floor(rand() * dirs.length)]!}/f${i}${rand() < 0.6 ? '.txt' : '.so'}`, size, rand() < 0.6);
  }
  for (let i = 0; i < 8; i++) write(`opt/app/big${i}.bin`, 16 << 20, i % 2 === 0);
  for (let i = 0; i < 200; i++) symlinkSync(`../${files[i * 7]!.split('/').pop()!}`, join(root, dirname(files[i * 11]!), `link${i}`));
  for (let i = 0; i < 100; i++) linkSync(join(root, files[i * 13 + 5]!), join(root, dirname(files[i * 17 + 3]!), `hard${i}`));
  for (let i = 0; i < 50; i++) mkdirSync(join(root, `var/empty${i}`));
  process.stderr.write(`generated ${files.length} files, ${(total / 2 ** 30).toFixed(2)} GiB in ${root}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs a shell pipeline, returns wall seconds. */
function timeShell(cmd: string, cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${cmd}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface ChildReport {
  seconds: number;
  maxRssMiB: number;
  gzSize: number;
  files: number;
}

/** Runs herd's packer in a child process so its peak RSS (workers included) is measured alone. */
function timeHerd(root: string, out: string, workers: number, blockSize: number | undefined): Promise<ChildReport> {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, '--child', root, '--out', out, '--workers', String(workers)];
  if (blockSize) args.push('--block-size', String(blockSize));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(text) as ChildReport) : reject(new Error(`herd child exited ${code}`))));
  });
}

async function child(root: string, out: string, workers: number, blockSize: number | undefined): Promise<void> {
  const { packDirectory } = await import('../src/artifacts/pack-tree.ts');
  const t0 = process.hrtime.bigint();
  const r = await packDirectory(root, { gz: out }, { sourceDateEpoch: 1_700_000_000, workers, ...(blockSize ? { blockSize } : {}) });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const report: ChildReport = { seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, gzSize: r.gz?.size ?? -1, files: r.contents.length };
  process.stdout.write(JSON.stringify(report));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      out: { type: 'string' },
      workers: { type: 'string' },
      'block-size': { type: 'string' },
      runs: { type: 'string', default: '3' },
      dir: { type: 'string', default: '/tmp/herd-bench-rootfs' },
      regen: { type: 'boolean', default: false },
      'skip-gzip': { type: 'boolean', default: false },
      'gen-only': { type: 'boolean', default: false },
    },
  });
  const blockSize = values['block-size'] ? Number(values['block-size']) : undefined;
  const workers = values.workers ? Number(values.workers) : availableParallelism();
  if (values.child) return child(values.child, values.out!, workers, blockSize);

  const base = values.dir;
  const root = join(base, 'rootfs');
  const stamp = join(base, 'stamp');
  if (values.regen || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== GEN_VERSION) {
    generateRootfs(root);
    writeFileSync(stamp, GEN_VERSION);
  }
  if (values['gen-only']) return;
  const outDir = join(base, 'out');
  mkdirSync(outDir, { recursive: true });
  const du = spawnSync('du', ['-sb', root], { encoding: 'utf8' }).stdout.split('\t')[0];
  const nfiles = spawnSync('bash', ['-c', `find . -type f | wc -l`], { cwd: root, encoding: 'utf8' }).stdout.trim();
  console.log(`rootfs ${root}: ${nfiles} files, ${(Number(du) / 2 ** 30).toFixed(2)} GiB; ${availableParallelism()} cores; herd workers=${workers}`);
  // Warm the page cache so every contender reads from memory.
  timeShell('find . -print0 | cpio --null -o -H newc --quiet > /dev/null', root);

  const runs = Number(values.runs);
  const herdOut = join(outDir, 'herd.img.gz');
  const gzipOut = join(outDir, 'gzip.img.gz');
  const pigzOut = join(outDir, 'pigz.img.gz');
  const herd: ChildReport[] = [];
  const gz: number[] = [];
  const pz: number[] = [];
  for (let i = 0; i < runs; i++) {
    herd.push(await timeHerd(root, herdOut, workers, blockSize));
    pz.push(timeShell(`find . | cpio -o -H newc --quiet | pigz -6 > ${pigzOut}`, root));
    if (!values['skip-gzip']) gz.push(timeShell(`find . | cpio -o -H newc --quiet | gzip -6 > ${gzipOut}`, root));
    console.log(`run ${i + 1}: herd ${herd[i]!.seconds.toFixed(2)} s, pigz pipeline ${pz[i]!.toFixed(2)} s${gz[i] ? `, gzip pipeline ${gz[i]!.toFixed(2)} s` : ''}`);
  }
  const tHerd = median(herd.map((h) => h.seconds));
  const tPigz = median(pz);
  const sHerd = statSync(herdOut).size;
  const sPigz = statSync(pigzOut).size;
  const rss = Math.max(...herd.map((h) => h.maxRssMiB));
  const fmt = (s: number): string => `${(s / 2 ** 20).toFixed(1)} MiB`;
  console.log(`\nmedian of ${runs}:`);
  console.log(`  herd pack              ${tHerd.toFixed(2)} s  ${fmt(sHerd)}  peak RSS ${rss.toFixed(0)} MiB`);
  console.log(`  find|cpio|pigz -6      ${tPigz.toFixed(2)} s  ${fmt(sPigz)}`);
  if (gz.length) console.log(`  find|cpio|gzip -6      ${median(gz).toFixed(2)} s  ${fmt(statSync(gzipOut).size)}`);
  const timeRatio = tHerd / tPigz;
  const sizeRatio = sHerd / sPigz;
  console.log(`  time herd/pigz ${timeRatio.toFixed(3)} (budget ≤ 0.6, issue #17): ${timeRatio <= 0.6 ? 'OK' : 'OVER'}`);
  console.log(`  size herd/pigz ${sizeRatio.toFixed(4)} (budget within 2%): ${Math.abs(sizeRatio - 1) <= 0.02 ? 'OK' : 'OVER'}`);
  const check = spawnSync('bash', ['-o', 'pipefail', '-c', `gzip -dc ${herdOut} | cpio -t --quiet | wc -l`], { encoding: 'utf8' });
  console.log(`  herd image lists ${check.stdout.trim()} entries with GNU cpio (herd index: ${herd[0]!.files})`);
}

await main();
