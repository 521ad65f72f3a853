// What a node's serial console says about its boot (pure): the milestones from the NIC's iPXE ROM to the login prompt,
// and the failures an admin must be told about by name. Input is the console text as captured (CRLF folded to LF);
// times come from the caller, which records when each milestone's first line arrived.

export type ConsoleMilestone = 'ipxe' | 'dhcp' | 'script' | 'kernel' | 'init' | 'systemd' | 'login';

export interface ConsoleFacts {
  /** First line index at which each milestone was seen. */
  readonly milestones: ReadonlyMap<ConsoleMilestone, number>;
  /** The address iPXE's DHCP gave the NIC (`net0: 10.0.0.2/255.255.255.0 gw ...`). */
  readonly ipxeAddress?: string;
  /** iPXE could not configure the NIC (`No configuration methods succeeded`, `Connection timed out` at DHCP). */
  readonly dhcpFailed: boolean;
  /** iPXE began configuring a NIC (`Configuring (net0 ...)`): it got past its banner and asked for an address. */
  readonly dhcpTried?: boolean;
  /** iPXE's own error line for a failed fetch (`http://... Error 0x2d12608e`, `No such file`). */
  readonly fetchError?: string;
  /** The kernel's `Initramfs unpacking failed: ...` line: the image did not fit in the VM's RAM. */
  readonly initramfsFailed?: string;
  /** `Kernel panic - not syncing: ...`. */
  readonly panic?: string;
  /** systemd's `[FAILED] Failed to start X` lines, by unit description, in order. */
  readonly failedUnits: readonly string[];
  /** The host name in `NAME login:` (getty on the serial console). */
  readonly loginHost?: string;
}

// iPXE prints its banner once the ROM runs, then `Configuring (net0 <mac>)... ok` and `net0: <addr>/<mask> gw <gw>`.
const RULES: readonly (readonly [ConsoleMilestone, RegExp])[] = [
  ['ipxe', /iPXE \(https?:\/\/ipxe\.org\)|iPXE initialising devices/],
  ['dhcp', /^net\d+: \d+\.\d+\.\d+\.\d+\/\d+\.\d+\.\d+\.\d+/],
  ['script', /^Warewulf v4 \(iPXE\)/],
  ['kernel', /Linux version \d/],
  ['init', /Run \/init as init process/],
  ['systemd', /^Welcome to .*!\s*$|systemd\[1\]: systemd \d+ running/],
  ['login', /^\S+ login: ?/],
];

// Control sequences systemd and getty write (colours, cursor moves) would split the markers.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1bc/g;

/** The console text with terminal escapes removed and every line trimmed of trailing blanks. */
export function consoleLines(text: string): string[] {
  return text.replace(ANSI, '').replace(/\r/g, '').split('\n').map((l) => l.trimEnd());
}

/**
 * When each milestone first showed on a console that is still being written: fed chunk by chunk, it looks at each line
 * once (and at the unfinished last one, where getty's `c1 login: ` prompt waits without a newline), instead of reading the
 * whole console again for every chunk.
 */
export class MilestoneClock {
  /** Milestone -> the caller's time when its first line arrived. */
  readonly seen = new Map<ConsoleMilestone, number>();
  private partial = '';

  push(chunk: string, nowMs: number): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of [...lines, this.partial]) {
      const clean = consoleLines(line)[0]!.trim();
      for (const [m, re] of RULES) if (!this.seen.has(m) && re.test(clean)) this.seen.set(m, nowMs);
    }
  }
}

export function consoleFacts(text: string): ConsoleFacts {
  const lines = consoleLines(text);
  const milestones = new Map<ConsoleMilestone, number>();
  const failedUnits: string[] = [];
  let ipxeAddress: string | undefined;
  let dhcpFailed = false;
  let dhcpTried = false;
  let fetchError: string | undefined;
  let initramfsFailed: string | undefined;
  let panic: string | undefined;
  let loginHost: string | undefined;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    for (const [m, re] of RULES) if (!milestones.has(m) && re.test(line)) milestones.set(m, i);
    const addr = /^net\d+: (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (addr && ipxeAddress === undefined) ipxeAddress = addr[1];
    if (/^Configuring \(net\d+/.test(line)) dhcpTried = true;
    if (/No configuration methods succeeded|^Configuring \(net\d+ .*\)\.*\s*(Connection timed out|No such device|Error)/.test(line)) dhcpFailed = true;
    if (fetchError === undefined && /^https?:\/\/\S+\.{3}\s*(Error|No such file|Permission denied|Connection)|Could not boot image|No more network devices/.test(line)) fetchError = line;
    if (initramfsFailed === undefined && /Initramfs unpacking failed/.test(line)) initramfsFailed = line.replace(/^\[\s*[\d.]+\]\s*/, '');
    if (panic === undefined && /Kernel panic - not syncing/.test(line)) panic = line.replace(/^\[\s*[\d.]+\]\s*/, '');
    const failed = /\[FAILED\] Failed to start (.+?)\.?$/.exec(line);
    if (failed?.[1] && !failedUnits.includes(failed[1])) failedUnits.push(failed[1]);
    const login = /^(\S+) login: ?/.exec(line);
    if (login?.[1] && loginHost === undefined) loginHost = login[1];
  });
  return {
    milestones,
    ...(ipxeAddress !== undefined ? { ipxeAddress } : {}),
    dhcpFailed,
    ...(dhcpTried ? { dhcpTried } : {}),
    ...(fetchError !== undefined ? { fetchError } : {}),
    ...(initramfsFailed !== undefined ? { initramfsFailed } : {}),
    ...(panic !== undefined ? { panic } : {}),
    failedUnits,
    ...(loginHost !== undefined ? { loginHost } : {}),
  };
}

/** Whether the console shows the kernel's serial console at all (`console=ttyS0` among the kernel arguments). */
export function hasSerialConsole(kernelArgs: readonly string[]): boolean {
  return kernelArgs.some((a) => /^console=ttyS\d/.test(a));
}
