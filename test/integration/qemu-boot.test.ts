// Boots a real Debian kernel under QEMU TCG with image + system + runtime overlay initrds and checks what the guest's /init saw.
import { createCipheriv } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, packDirWithGnuCpio, type BootResult } from './qemu/boot.ts';
import { ensureDebianKernel, type DebianKernel } from './qemu/kernel-cache.ts';
import { BOOT_END, buildTinyRootfs } from './qemu/tiny-rootfs.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const BOOT_TIMEOUT_MS = 150_000; // ~5 s on an idle 2-core runner, 20-30 s when the cores are shared

const work = mkdtempSync(join(tmpdir(), 'herd-qemu-boot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let kernel: DebianKernel;
let rootfs: string;
const image = join(work, 'image.cpio.gz');
const systemOverlay = join(work, 'system.cpio.gz');
const runtimeOverlay = join(work, 'runtime.cpio.gz');

function overlay(name: string, files: Record<string, string>, out: string): void {
  const dir = join(work, name);
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body);
  }
  packDirWithGnuCpio(dir, out);
}

function tail(r: BootResult): string {
  return `console tail:\n${r.console.split('\n').slice(-40).join('\n')}\nqemu stderr: ${r.stderr}`;
}

/** `HERD-BOOT-OK <hostname> <n>` printed by the image's /init. */
function bootLine(r: BootResult): { host: string; markers: number } | undefined {
  const m = /^HERD-BOOT-OK (\S+) (\d+)$/m.exec(r.console);
  return m?.[1] && m[2] ? { host: m[1], markers: Number(m[2]) } : undefined;
}

/** Interface names from the `ip link` listing the guest printed. */
function links(r: BootResult): string[] {
  return [...r.console.matchAll(/^\d+: ([\w.-]+)[:@]/gm)].map((m) => m[1] ?? '');
}

beforeAll(async () => {
  kernel = await ensureDebianKernel(CACHE);
  rootfs = join(work, 'rootfs');
  buildTinyRootfs(rootfs, { kernel, modules: ['e1000', 'virtio_net', 'virtio_pci'] });
  // The image's own hostname; the system overlay must replace it (later initrds overwrite earlier files).
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'from-image\n');
  packDirWithGnuCpio(rootfs, image);
  overlay('system', { 'etc/hostname': 'n0001\n', 'etc/herd-marker.d/system': 'system overlay\n' }, systemOverlay);
  overlay('runtime', { 'etc/herd-marker.d/runtime': 'runtime overlay\n' }, runtimeOverlay);
});

describe('direct boot of image + overlays under QEMU (TCG)', () => {
  it('runs the image /init with both overlays unpacked over the image and an e1000 NIC', async () => {
    expect(statSync(image).size).toBeLessThan(16 << 20); // "tiny": busybox, nine modules, an 8 MB kernel
    const r = await bootImage({ kernel: kernel.vmlinuz, initrds: [image, systemOverlay, runtimeOverlay], memoryMiB: 512, nic: 'e1000', marker: new RegExp(BOOT_END), timeoutMs: BOOT_TIMEOUT_MS });
    console.info(`boot with overlays: marker after ${r.markerMs} ms, qemu exited after ${r.durationMs} ms`);
    expect(r.ok, tail(r)).toBe(true);
    expect(r.exitCode, tail(r)).toBe(0); // poweroff -f, not a panic or our kill
    expect(r.console).not.toContain('Initramfs unpacking failed');
    expect(bootLine(r), tail(r)).toEqual({ host: 'n0001', markers: 2 });
    expect(r.console).toMatch(/^HERD-MARKERS runtime system\s*$/m);
    expect(r.console).not.toContain('HERD-MODPROBE-FAILED');
    expect(r.console).toMatch(/^HERD-MODULES .*\be1000\b/m);
    expect(links(r), tail(r)).toContain('eth0');
    expect(r.console).toContain('link/ether 52:54:00:12:34:56'); // QEMU's default MAC: the emulated e1000 was bound
  });
});

describe('bootImage lifecycle', () => {
  it('SIGKILLs qemu when the marker never shows and leaves no process behind', async () => {
    const r = await bootImage({ kernel: kernel.vmlinuz, initrds: [image], memoryMiB: 256, marker: /NEVER-PRINTED/, timeoutMs: 3_000 });
    expect(r.ok).toBe(false);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.pid).toBeGreaterThan(0);
    expect(() => process.kill(r.pid ?? 0, 0)).toThrow(/ESRCH/);
  });
});

describe("the seed's RAM trap: an image too big for the initramfs tmpfs", () => {
  const padded = join(work, 'padded-image.cpio');

  beforeAll(async () => {
    // 300 MB of AES-CTR keystream: incompressible, deterministic, ~1 s to make. Named to sort last, so
    // everything else of the image (its /init included) is unpacked before the write error hits.
    const pad = join(rootfs, 'zz-padding.bin');
    const out = createWriteStream(pad);
    const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x68), Buffer.alloc(16, 0));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 300; i++) if (!out.write(cipher.update(zeros))) await new Promise<void>((res) => out.once('drain', () => res()));
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    // Plain cpio: gzip cannot shrink keystream and takes ~30 s on shared cores; the kernel takes both forms.
    packDirWithGnuCpio(rootfs, padded, { compress: false });
    rmSync(pad);
  });

  it('at 512 MiB prints "Initramfs unpacking failed" and silently drops both overlays', async () => {
    const r = await bootImage({ kernel: kernel.vmlinuz, initrds: [padded, systemOverlay, runtimeOverlay], memoryMiB: 512, marker: new RegExp(BOOT_END), timeoutMs: BOOT_TIMEOUT_MS });
    console.info(`padded image at 512 MiB: marker after ${r.markerMs} ms, qemu exited after ${r.durationMs} ms`);
    expect(r.console, tail(r)).toMatch(/Initramfs unpacking failed: write error/);
    // The image's /init still runs — the node "boots" — but with the image's hostname and no overlay files.
    expect(r.ok, tail(r)).toBe(true);
    expect(bootLine(r), tail(r)).toEqual({ host: 'from-image', markers: 0 });
    expect(r.console).not.toMatch(/HERD-MARKERS .*runtime/);
  });

  it('the same initrds boot complete at 1536 MiB (control), here with a virtio NIC', async () => {
    const r = await bootImage({ kernel: kernel.vmlinuz, initrds: [padded, systemOverlay, runtimeOverlay], memoryMiB: 1536, nic: 'virtio', marker: new RegExp(BOOT_END), timeoutMs: BOOT_TIMEOUT_MS });
    console.info(`padded image at 1536 MiB: marker after ${r.markerMs} ms, qemu exited after ${r.durationMs} ms`);
    expect(r.console, tail(r)).not.toContain('Initramfs unpacking failed');
    expect(bootLine(r), tail(r)).toEqual({ host: 'n0001', markers: 2 });
    expect(r.console).toMatch(/^HERD-MODULES .*\bvirtio_net\b.*\bvirtio_pci\b/m);
    expect(links(r), tail(r)).toContain('eth0');
    expect(r.exitCode, tail(r)).toBe(0);
  });
});
