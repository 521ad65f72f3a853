// What slurmctld says about a node (pure): `scontrol show node -o` parsed, and whether a node asked to reboot has come back, is on its way, or failed.
//
// Slurm 22.05 (Debian 12) has no `scontrol --json` ("unrecognized option"), so herd reads the text form. Values may hold spaces (OS=Linux 6.1.0 #1
// SMP ..., Reason=herd generation 3 : reboot issued [root@...]); a field starts only where whitespace is followed by a capitalised Key= (all of
// Slurm's keys are CamelCase; a reason's words such as "ticket=42" are lower case, so they stay in the reason).

export interface NodeStatus {
  readonly name: string;
  /** State as Slurm prints it, e.g. DOWN+DRAIN+REBOOT_ISSUED. */
  readonly state: string;
  /** The base state without flags or suffixes: IDLE, ALLOCATED, MIXED, DOWN, FUTURE, UNKNOWN... */
  readonly base: string;
  readonly flags: readonly string[];
  /** BootTime as printed, and as seconds since the epoch (local time, as scontrol prints it); null for None/Unknown. */
  readonly bootTimeText: string | null;
  readonly bootTime: number | null;
  readonly reason: string | null;
}

const FIELD_START = /\s+(?=[A-Z][A-Za-z_]*=)/;

/** The fields of one node record (`-o` line or the multi-line form). */
function fieldsOf(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of record.trim().split(FIELD_START)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq);
    if (!out.has(key)) out.set(key, part.slice(eq + 1).trim());
  }
  return out;
}

/** Seconds since the epoch of Slurm's `2026-12-06T15:04:13` (the local time of the scontrol that printed it); null when not a time. */
export function slurmTimeSeconds(text: string | undefined): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)$/.exec(text ?? '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Math.floor(d.getTime() / 1000);
}

/** Every node in `scontrol show node [-o]` output, by name. Lines that are not node records (errors, blank) are ignored. */
export function parseShowNodes(text: string): Map<string, NodeStatus> {
  const out = new Map<string, NodeStatus>();
  for (const record of text.split(/\n(?=NodeName=)/)) {
    const f = fieldsOf(record.replace(/\n/g, ' '));
    const name = f.get('NodeName');
    if (!name) continue;
    const state = f.get('State') ?? 'UNKNOWN';
    const [first, ...flags] = state.split('+');
    const boot = f.get('BootTime');
    const reason = f.get('Reason');
    out.set(name, {
      name,
      state,
      base: (first ?? '').replace(/[*~#!%$@^-]+$/, ''),
      flags,
      bootTimeText: boot && boot !== 'None' && boot !== 'Unknown' ? boot : null,
      bootTime: slurmTimeSeconds(boot),
      reason: reason && reason !== '(null)' ? reason : null,
    });
  }
  return out;
}

export type Progress =
  | { readonly kind: 'back' }
  /** draining: waiting for running jobs to end before Slurm reboots it (ASAP); rebooting: reboot issued, not back yet. */
  | { readonly kind: 'draining' | 'rebooting' }
  | { readonly kind: 'failed'; readonly why: string };

/**
 * Where a node stands after herd asked Slurm to reboot it at `requestedAt` (seconds since the epoch, whole seconds: BootTime has no finer
 * resolution, so a boot in the same second counts; the REBOOT_* flags, which Slurm sets before `scontrol reboot` returns, rule out mistaking
 * a node that never rebooted for one that did).
 * Came back: BootTime not before the request, no REBOOT_REQUESTED/REBOOT_ISSUED flag, not DOWN, DRAIN, FAIL or NOT_RESPONDING.
 */
export function progressOf(n: NodeStatus | undefined, requestedAt: number): Progress {
  if (!n) return { kind: 'failed', why: 'slurmctld does not know this node' };
  const has = (f: string) => n.flags.includes(f);
  if (has('REBOOT_ISSUED')) return { kind: 'rebooting' };
  if (has('REBOOT_REQUESTED')) return { kind: 'draining' };
  if (n.base === 'DOWN' || has('DRAIN') || has('FAIL') || n.base === 'FUTURE') return { kind: 'failed', why: `Slurm has it ${n.state}` };
  if (has('NOT_RESPONDING') || /\*$/.test(n.state.split('+')[0] ?? '')) return { kind: 'rebooting' };
  if (n.bootTime !== null && n.bootTime >= requestedAt) return { kind: 'back' };
  return { kind: 'failed', why: `its reboot request is gone but it did not boot since (BootTime ${n.bootTimeText ?? 'unknown'}): was the reboot cancelled?` };
}
