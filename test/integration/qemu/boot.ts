// Test helper (impure: spawns qemu/cpio, writes temp files): direct-boots a kernel plus concatenated initrds under QEMU TCG and captures the serial console.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface BootOptions {
  kernel: string;
  /** gzip'd or plain newc cpio files, concatenated in this order (image, system overlay, runtime overlay) like Warewulf's iPXE script loads them. */
  initrds: string[];
  memoryMiB: number;
  /** Extra kernel command line after `console=ttyS0 panic=1`. */
  append?: string;
  /** Boot counts as ok once this matches the console. */
  marker: RegExp;
  /** Whole run, default 60 s; qemu is SIGKILLed when it expires. */
  timeoutMs?: number;
  /** After the marker, how long to let the guest finish (print more, power off) before killing it; default 10 s. */
  graceMs?: number;
  /** No NIC when omitted. The NIC sits on slirp with restrict=on: the guest can reach nothing outside. */
  nic?: 'e1000' | 'virtio';
  /** MAC of the NIC (QEMU's default 52:54:00:12:34:56 otherwise). */
  mac?: string;
}

export interface BootResult {
  ok: boolean;
  /** Serial console (kernel log and /init output), CRLF folded to LF. */
  console: string;
  /** qemu's own stderr (argument errors, "initrd is too large", ...). */
  stderr: string;
  /** From spawn until qemu exited. */
  durationMs: number;
  /** From spawn until the marker matched, null when it never did. */
  markerMs: number | null;
  /** qemu's exit code; null when it was killed (timeout, or no poweroff within graceMs). */
  exitCode: number | null;
  timedOut: boolean;
  /** qemu's pid (setpriv execs it, so the same process); gone once this result exists. */
  pid: number | undefined;
}

const QEMU = 'qemu-system-x86_64';

/** Every qemu still running, so a dying test process does not leave guests spinning on the shared CPUs. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

async function concatenate(files: string[], out: string): Promise<void> {
  const sink = createWriteStream(out);
  try {
    for (const f of files) await pipeline(createReadStream(f), sink, { end: false });
  } finally {
    await new Promise<void>((res, rej) => sink.end((err?: Error | null) => (err ? rej(err) : res())));
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}

function hasPdeathsig(): boolean {
  try {
    return execFileSync('setpriv', ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('--pdeathsig');
  } catch {
    return false;
  }
}

function qemuArgs(o: BootOptions, initrd: string): string[] {
  const net = o.nic === undefined
    ? ['-nic', 'none']
    : ['-netdev', 'user,id=n0,restrict=on', '-device', `${o.nic === 'virtio' ? 'virtio-net-pci' : 'e1000'},netdev=n0${o.mac ? `,mac=${o.mac}` : ''}`];
  return [
    '-accel', 'tcg', // /dev/kvm exists here but guests hang after "Probing EDD"
    '-m', String(o.memoryMiB),
    '-smp', '1',
    '-nographic', '-no-reboot', // panic=1 reboots, -no-reboot turns that into qemu exiting
    ...net,
    '-kernel', o.kernel,
    '-initrd', initrd,
    '-append', ['console=ttyS0', 'panic=1', o.append ?? ''].join(' ').trim(),
  ];
}

/** Boots once and resolves when qemu is gone; never rejects for guest failures (ok=false instead). */
export async function bootImage(o: BootOptions): Promise<BootResult> {
  if (o.initrds.length === 0) throw new Error('bootImage needs at least one initrd');
  // Checked up front: behind setpriv a missing qemu would only show as exit 127.
  if (!onPath(QEMU)) throw new Error(`${QEMU} is not installed (Debian: apt-get install qemu-system-x86)`);
  if (!existsSync(o.kernel)) throw new Error(`kernel ${o.kernel} does not exist`);
  const work = mkdtempSync(join(tmpdir(), 'herd-qemu-'));
  try {
    // QEMU 7.2 takes a single -initrd; the kernel unpacks concatenated cpio(.gz) members in order, later files winning.
    const initrd = join(work, 'initrd.img');
    await concatenate(o.initrds, initrd);
    const args = qemuArgs(o, initrd);
    // setpriv's parent-death signal kills qemu even if this process is SIGKILLed (exit handlers never run then).
    const wrap = hasPdeathsig();
    return await runQemu(wrap ? 'setpriv' : QEMU, wrap ? ['--pdeathsig', 'KILL', '--', QEMU, ...args] : args, o);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface NetbootOptions {
  memoryMiB: number;
  /** MAC of the e1000 NIC whose iPXE option ROM boots. */
  mac: string;
  /** Folder slirp serves over TFTP; `bootfile` is the file in it the DHCP answer names (an iPXE script). */
  tftpDir: string;
  bootfile: string;
  marker: RegExp;
  timeoutMs?: number;
  graceMs?: number;
}

/**
 * Network boot, Warewulf-style: the NIC's iPXE ROM takes slirp's DHCP answer, fetches `bootfile` over TFTP and runs it.
 * restrict=off so the guest reaches the host's 127.0.0.1 as 10.0.2.2 (an HTTP server there); nothing else is contacted.
 * `-boot order=n` with a reboot timeout and -no-reboot: a failed boot ends QEMU instead of waiting at "No bootable device".
 */
export async function netbootImage(o: NetbootOptions): Promise<BootResult> {
  if (!onPath(QEMU)) throw new Error(`${QEMU} is not installed (Debian: apt-get install qemu-system-x86 ipxe-qemu)`);
  const args = [
    '-accel', 'tcg',
    '-m', String(o.memoryMiB),
    '-smp', '1',
    '-nographic', '-no-reboot',
    '-boot', 'order=n,reboot-timeout=1000',
    '-netdev', `user,id=n0,restrict=off,tftp=${o.tftpDir},bootfile=${o.bootfile}`,
    '-device', `e1000,netdev=n0,mac=${o.mac}`,
  ];
  const wrap = hasPdeathsig();
  return runQemu(wrap ? 'setpriv' : QEMU, wrap ? ['--pdeathsig', 'KILL', '--', QEMU, ...args] : args, o);
}

function runQemu(cmd: string, argv: string[], o: Pick<BootOptions, 'marker' | 'timeoutMs' | 'graceMs'>): Promise<BootResult> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const graceMs = o.graceMs ?? 10_000;
  const started = performance.now();
  return new Promise<BootResult>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '';
    let err = '';
    let markerMs: number | null = null;
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const killTimer = setTimeout(() => {
      timedOut = markerMs === null;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('latin1'); // serial bytes need not be UTF-8; latin1 never mangles them
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (markerMs === null && o.marker.test(out.replace(/\r\n/g, '\n'))) {
        markerMs = performance.now() - started;
        graceTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      }
    });
    child.stderr.on('data', (chunk: string) => { err += chunk; });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(killTimer);
      clearTimeout(graceTimer);
      live.delete(child);
      reject(e.code === 'ENOENT' ? new Error(`${cmd} is not installed`) : e);
    });
    child.on('close', (code) => {
      clearTimeout(killTimer);
      clearTimeout(graceTimer);
      live.delete(child);
      resolve({
        ok: markerMs !== null,
        console: out.replace(/\r\n/g, '\n'),
        stderr: err,
        durationMs: Math.round(performance.now() - started),
        markerMs: markerMs === null ? null : Math.round(markerMs),
        exitCode: code,
        timedOut,
        pid: child.pid,
      });
    });
  });
}

/**
 * Stand-in for herd's packer: `find . | sort | cpio -o -H newc | gzip` run in `dir`, owners forced to
 * root. `compress: false` leaves a plain cpio (the kernel takes both).
 */
export function packDirWithGnuCpio(dir: string, outFile: string, opts: { compress?: boolean } = {}): void {
  const gzip = opts.compress === false ? 'cat' : 'gzip -1 -n';
  const script = `set -euo pipefail; find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --reproducible --quiet | ${gzip} > "$1"`;
  try {
    execFileSync('bash', ['-c', script, 'pack', outFile], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`packing ${dir} with GNU cpio failed (Debian: apt-get install cpio): ${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
  }
}
