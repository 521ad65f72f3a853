// Ctrl-C during a build (issue 15): the real bin/herd.js, interrupted while it packs an image, stops at once with exit 130 and one
// line saying what was kept, and leaves no .tmp-<pid> folder in the build cache; a dead run's leftovers are swept by the next build.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/fs/temp-registry.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(join(tmpdir(), 'herd-interrupt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A spec whose one image holds `bigBytes` of incompressible data (the build is paused mid-pack by HERD_TEST_PAUSE_IN_PACK, so its size does not matter). */
function specWithBigImage(name: string, bigBytes: number): string {
  const spec = join(work, name);
  mkdirSync(join(spec, 'rootfs/boot'), { recursive: true });
  mkdirSync(join(spec, 'rootfs/etc'), { recursive: true });
  writeFileSync(join(spec, 'rootfs/boot/vmlinuz-6.1.0-1-amd64'), Buffer.alloc(8192, 0x4b));
  writeFileSync(join(spec, 'rootfs/etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(spec, 'rootfs/etc/group'), 'root:x:0:\n');
  for (let i = 0, left = bigBytes; left > 0; i++, left -= 16 << 20) writeFileSync(join(spec, `rootfs/big-${i}`), randomBytes(Math.min(left, 16 << 20)));
  writeFileSync(
    join(spec, 'cluster.yaml'),
    `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: intr
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0 }
images:
  img: { source: "dir:rootfs" }
defaults: { image: img, memory: 4GiB, cpus: 1 }
nodes:
  n1: { mac: "52:54:00:12:34:56", address: 10.9.0.2 }
`,
  );
  return spec;
}

/** A process id that is not running, for a leftover "from a dead run". */
function deadPid(): number {
  for (let pid = 4_000_000; pid > 1000; pid -= 7919) if (!pidAlive(pid)) return pid;
  throw new Error('no free pid found');
}

describe('herd build interrupted', () => {
  beforeAll(() => {
    if (existsSync(join(REPO, 'dist/cli/main.js'))) return;
    execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO, stdio: 'pipe', timeout: 300_000 });
  }, 300_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`by ${signal} while packing: exit 130 at once, one line, no temporary folder left`, async () => {
      const spec = specWithBigImage(`case-${signal}`, 1 << 20);
      const images = join(spec, '.herd/intr/cache/images/img');
      // A dead run's leftover: the next build removes it.
      const stale = join(images, `${'0'.repeat(64)}.tmp-${deadPid()}`);
      mkdirSync(join(stale, 'half'), { recursive: true });
      const child = spawn(process.execPath, [join(REPO, 'bin/herd.js'), 'build', '.', '--out', join(spec, '..', `out-${signal}`)], { cwd: spec, env: { ...process.env, NO_COLOR: '1', HERD_TEST_PAUSE_IN_PACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      const exited = once(child, 'exit');
      // The build stops (without exiting) once its own temporary folder exists: it is mid-pack, and stays there until signalled.
      const paused = new Promise<void>((resolve) => {
        child.stderr.on('data', (c) => {
          stderr += String(c);
          if (stderr.includes('herd-test: paused while packing')) resolve();
        });
        void exited.then(() => resolve());
      });
      await paused;
      expect(stderr, 'the build never reached packing').toContain('herd-test: paused while packing');
      expect(readdirSync(images).filter((n) => n.endsWith(`.tmp-${child.pid}`)), 'its temporary folder exists').toHaveLength(1);
      expect(existsSync(stale), 'the dead run\'s leftover is swept when the build starts').toBe(false);
      child.kill(signal);
      // A paused build never finishes by itself: exiting at all shows the signal stopped it mid-pack.
      const [code] = (await exited) as [number | null];
      expect(code).toBe(130);
      const lines = stderr.split('\n').filter((l) => l.startsWith('herd build: interrupted'));
      expect(lines).toEqual([`herd build: interrupted (${signal}); --out is unchanged (herd replaces it only as a whole, at the end); images already built stay in the build cache; removed 1 unfinished temporary folder`]);
      expect(readdirSync(images).filter((n) => n.includes('.tmp-'))).toEqual([]);
      expect(existsSync(join(spec, '..', `out-${signal}`))).toBe(false);
    }, 120_000);
  }
});
