// Integration: a real network boot from `herd serve`. QEMU's e1000 iPXE ROM gets slirp's DHCP answer, fetches a chain script
// over TFTP that hands over to herd serve's per-MAC script (as Warewulf's dhcpd/dnsmasq templates do), then that script
// fetches kernel, image, system and runtime overlays from herd serve, and the tiny image's init reports the hostname and
// address only c1's overlays carry. herd serve listens on 127.0.0.1 only; the guest reaches it as 10.0.2.2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfinedDir } from '../../src/fs/confined-dir.ts';
import { compileSpecAt } from '../../src/pipeline.ts';
import { startServe, type RunningServer } from '../../src/serve/http-server.ts';
import { serveModelOf } from '../../src/serve/serve-model.ts';
import { applyTinyCluster, TINY_MACS, type AppliedRoot } from '../fixtures/applied-root.ts';
import { netbootImage, type BootResult } from './qemu/boot.ts';
import { IMAGE_INIT_RAN, OVERLAY_BOOT_END, parseOverlayReport } from './qemu/overlay-init.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const BOOT_TIMEOUT_MS = 300_000; // ~15 s on an idle runner (iPXE's fixed waits included); far more when the cores are shared

let applied: AppliedRoot;
let server: RunningServer;
let serverLog = '';
let tftp: string;
let boot: BootResult;
let secureServer: RunningServer;
let secureLog = '';
let secureBoot: BootResult;

beforeAll(async () => {
  applied = await applyTinyCluster(CACHE);
  const compiled = await compileSpecAt(applied.specDir, applied.work, { images: false });
  const model = compiled.model!;
  server = await startServe({
    root: ConfinedDir.open(applied.root, { what: 'root' }),
    rootDisplay: applied.root,
    host: '127.0.0.1',
    port: 0,
    // The script the node runs must name the server as the guest sees it.
    model: (port) => serveModelOf(model, { port, secure: false, authority: `10.0.2.2:${port}` }),
    log: (l) => (serverLog += l),
  });
  // The same root behind warewulf.conf `secure: true`, to see what iPXE's source port makes of the runtime overlay.
  secureServer = await startServe({
    root: ConfinedDir.open(applied.root, { what: 'root' }),
    rootDisplay: applied.root,
    host: '127.0.0.1',
    port: 0,
    model: (port) => serveModelOf(model, { port, secure: true, authority: `10.0.2.2:${port}` }),
    log: (l) => (secureLog += l),
  });
  tftp = mkdtempSync(join(tmpdir(), 'herd-netboot-tftp-'));
  // What Warewulf's dhcpd.conf.ww hands iPXE clients: a chain to /ipxe/<MAC with hyphens>.
  const chain = (port: number) => `#!ipxe\necho herd-netboot: chaining to herd serve\nchain http://10.0.2.2:${port}/ipxe/\${mac:hexhyp}?assetkey=\${asset}&uuid=\${uuid}\n`;
  writeFileSync(join(tftp, 'chain.ipxe'), chain(server.port));
  writeFileSync(join(tftp, 'chain-secure.ipxe'), chain(secureServer.port));
  const netboot = (bootfile: string) =>
    netbootImage({
      memoryMiB: 512,
      mac: TINY_MACS.c1,
      tftpDir: tftp,
      bootfile,
      marker: new RegExp(`${OVERLAY_BOOT_END}|${IMAGE_INIT_RAN}|Kernel panic`),
      timeoutMs: BOOT_TIMEOUT_MS,
    });
  boot = await netboot('chain.ipxe');
  console.info(`netboot: marker after ${boot.markerMs} ms, qemu exited after ${boot.durationMs} ms`);
  secureBoot = await netboot('chain-secure.ipxe');
  console.info(`netboot (secure): marker after ${secureBoot.markerMs} ms, qemu exited after ${secureBoot.durationMs} ms`);
}, 900_000);

afterAll(async () => {
  await server?.close();
  await secureServer?.close();
  if (tftp) rmSync(tftp, { recursive: true, force: true });
  applied?.cleanup();
});

const tail = () => `console tail:\n${boot.console.split('\n').slice(-60).join('\n')}\nqemu stderr: ${boot.stderr}\nserver log:\n${serverLog}`;

describe('c1 boots over the network from herd serve', () => {
  it('reaches the image\'s init through wwinit and powers off', () => {
    expect(boot.ok, tail()).toBe(true);
    expect(boot.console, tail()).not.toMatch(/Kernel panic/);
    expect(boot.console, tail()).not.toContain(IMAGE_INIT_RAN);
    expect(boot.exitCode, tail()).toBe(0);
  });

  it('comes up with c1\'s hostname and 10.9.0.2/24, which only its overlays carry', () => {
    const report = parseOverlayReport(boot.console);
    expect(report.get('HOSTNAME'), tail()).toBe('c1');
    expect(report.get('NM-ADDRESS'), tail()).toBe('10.9.0.2/24');
    expect(report.get('APPLIED'), tail()).toBe('10.9.0.2/24');
    expect(report.get('NIC-MAC')).toBe(TINY_MACS.c1);
    expect(report.get('WWCONFIG')).toBe('c1 /sbin/init initramfs');
    expect(report.get('RUNTIME-PASSWD'), 'a runtime-overlay user').toBe('1');
  });

  it('shows every stage of the boot path for c1\'s MAC in the server log, warewulfd-style', () => {
    const stages = [...serverLog.matchAll(/request from hwaddr:(\S+) ipaddr:127\.0\.0\.1:\d+ \| stage:(\w+)/g)].filter((m) => m[1] === TINY_MACS.c1).map((m) => m[2]);
    expect(stages, serverLog).toEqual(['ipxe', 'kernel', 'image', 'system', 'runtime']);
    for (const f of ['images/tiny.img.gz', 'overlays/c1/__SYSTEM__.img.gz', 'overlays/c1/__RUNTIME__.img.gz']) expect(serverLog).toMatch(new RegExp(`\\] send \\S+/provision/${f.replaceAll('.', '\\.')} -> c1\\n`));
    expect(serverLog).toMatch(/\] send \S+\/chroots\/tiny\/rootfs\/lib\/modules\/\S+\/vmlinuz -> c1\n/);
  });

  it('with secure: true, iPXE\'s unprivileged source port gets 401 for the runtime overlay; the script ignores it and boots without', () => {
    const denied = [...secureLog.matchAll(/\] DENIED : Non-privileged port: 127\.0\.0\.1:(\d+)\n/g)].map((m) => Number(m[1]));
    expect(denied.length, secureLog).toBeGreaterThan(0);
    // Seen from the host through slirp; the guest's own port is not visible here, only that warewulfd's rule refuses it.
    expect(denied.every((p) => p >= 1024)).toBe(true);
    const report = parseOverlayReport(secureBoot.console);
    expect(secureBoot.ok, secureBoot.console.split('\n').slice(-40).join('\n')).toBe(true);
    expect(report.get('HOSTNAME')).toBe('c1');
    expect(report.get('APPLIED')).toBe('10.9.0.2/24');
    expect(report.get('RUNTIME-PASSWD'), 'no runtime overlay, so no site user').toBe('0');
    expect(secureBoot.console).toContain('Unable to download runtime overlay. (ignored)');
  });
});
