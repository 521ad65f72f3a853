// Rewrites a generated slurm.conf into a copy real daemons can run in a test sandbox (pure: text in, text out).
// Only the host-specific keys change; NodeName/PartitionName lines stay byte for byte and every line keeps its number,
// so slurmctld's "line N" errors point at the generated file. Keys the file lacks are appended after its last line.
import { slurmKeyOf, splitSlurmComment } from '../../../src/boottest/head-slurm-conf.ts';

/** Where the sandboxed daemons keep their files. `%n` is Slurm's per-node placeholder. */
export interface SandboxPaths {
  readonly stateDir: string;
  readonly spoolDir: string;
  readonly logDir: string;
  readonly runDir: string;
  readonly plugstackConf: string;
  readonly mungeSocket: string;
}

/** The standard layout under one sandbox directory. */
export function sandboxPaths(dir: string, mungeSocket: string): SandboxPaths {
  return {
    stateDir: `${dir}/state`,
    spoolDir: `${dir}/spool/%n`,
    logDir: `${dir}/log`,
    runDir: `${dir}/run`,
    plugstackConf: `${dir}/etc/plugstack.conf`,
    mungeSocket,
  };
}

/** First token keys of lines that describe the cluster itself: never rewritten. */
const STRUCTURE_KEYS = new Set(['nodename', 'partitionname', 'downnodes', 'nodeset', 'frontendname', 'slurmctldhost', 'controlmachine', 'controladdr', 'backupcontroller', 'backupaddr']);

/**
 * Keys replaced by the sandbox, with their canonical spelling (used when appending).
 * SlurmctldDebug is forced to info because "Running as primary controller" is an info line and the harness waits for it.
 */
function overrides(p: SandboxPaths): ReadonlyMap<string, [string, string]> {
  const entries: [string, string][] = [
    ['SlurmUser', 'root'],
    ['SlurmdUser', 'root'],
    ['StateSaveLocation', p.stateDir],
    ['SlurmdSpoolDir', p.spoolDir],
    ['SlurmctldPidFile', `${p.runDir}/slurmctld.pid`],
    ['SlurmdPidFile', `${p.runDir}/slurmd-%n.pid`],
    ['SlurmctldLogFile', `${p.logDir}/slurmctld.log`],
    ['SlurmdLogFile', `${p.logDir}/slurmd-%n.log`],
    ['SlurmctldDebug', 'info'],
    // cgroup proctrack/task plugins would need the host's real cgroup controllers; linuxproc and none need nothing.
    ['ProctrackType', 'proctrack/linuxproc'],
    ['TaskPlugin', 'task/none'],
    ['JobAcctGatherType', 'jobacct_gather/none'],
    ['AccountingStorageType', 'accounting_storage/none'],
    ['JobCompType', 'jobcomp/none'],
    ['MailProg', '/bin/true'],
    ['PlugStackConfig', p.plugstackConf],
  ];
  return new Map(entries.map(([k, v]) => [k.toLowerCase(), [k, v]]));
}

/** Site scripts and external services a sandbox does not have: their lines become comments. */
const DROPPED_KEYS = new Set(
  [
    'Prolog', 'Epilog', 'PrologSlurmctld', 'EpilogSlurmctld', 'TaskProlog', 'TaskEpilog', 'SrunProlog', 'SrunEpilog',
    'HealthCheckProgram', 'RebootProgram', 'ResumeProgram', 'SuspendProgram', 'ResumeFailProgram', 'ResvProlog', 'ResvEpilog',
    'UnkillableStepProgram', 'SlurmSchedLogFile', 'AccountingStorageHost', 'AccountingStorageBackupHost', 'AccountingStoragePort',
    'AccountingStorageUser', 'AccountingStoragePass', 'AccountingStorageEnforce', 'JobCompHost', 'JobCompLoc', 'JobCompPort',
    'JobCompUser', 'JobCompPass',
  ].map((k) => k.toLowerCase()),
);

/** Comma-list keys where the sandbox adds one element and keeps the rest. */
function mergedValue(key: string, value: string, p: SandboxPaths): string | undefined {
  if (key === 'authinfo') {
    const kept = value.split(',').filter((v) => v !== '' && !/^socket=/i.test(v));
    return [`socket=${p.mungeSocket}`, ...kept].join(',');
  }
  if (key === 'slurmdparameters') {
    // config_overrides: trust the conf's CPUs/RealMemory instead of the test machine's, or the nodes go "inval".
    const kept = value.split(',').filter((v) => v !== '');
    return kept.some((v) => v.toLowerCase() === 'config_overrides') ? kept.join(',') : [...kept, 'config_overrides'].join(',');
  }
  return undefined;
}

const MERGED_DEFAULTS: readonly (readonly [string, string])[] = [
  ['AuthInfo', ''],
  ['SlurmdParameters', ''],
];

/**
 * Returns the sandbox copy of `conf`. Throws on `Include`, which would pull a host file into the test.
 * Each general line is token-rewritten only if it holds a key the sandbox owns; all other lines are kept verbatim.
 */
export function sandboxSlurmConf(conf: string, p: SandboxPaths): string {
  const table = overrides(p);
  const seen = new Set<string>();
  const lines = conf.split('\n');
  const out = lines.map((line, idx) => {
    const [code, comment] = splitSlurmComment(line);
    const tokens = code.trim().split(/\s+/).filter((t) => t !== '');
    const first = tokens[0];
    if (first === undefined) return line;
    if (/^include$/i.test(first)) throw new Error(`slurm.conf line ${idx + 1}: Include is not supported by the test sandbox`);
    if (STRUCTURE_KEYS.has(slurmKeyOf(first))) return line;
    let touched = false;
    const kept: string[] = [];
    for (const token of tokens) {
      const key = slurmKeyOf(token);
      const value = token.slice(token.indexOf('=') + 1);
      const replaced = table.get(key);
      const merged = token.includes('=') ? mergedValue(key, value, p) : undefined;
      if (replaced) {
        kept.push(`${token.slice(0, key.length)}=${replaced[1]}`);
        seen.add(key);
        touched = true;
      } else if (merged !== undefined) {
        kept.push(`${token.slice(0, key.length)}=${merged}`);
        seen.add(key);
        touched = true;
      } else if (DROPPED_KEYS.has(key)) {
        touched = true;
      } else kept.push(token);
    }
    if (!touched) return line;
    if (kept.length === 0) return `# herd-sandbox dropped: ${code.trim()}${comment === '' ? '' : ' ' + comment}`;
    return kept.join(' ') + (comment === '' ? '' : ' ' + comment);
  });
  const appended: string[] = [];
  for (const [key, [name, value]] of table) if (!seen.has(key)) appended.push(`${name}=${value}`);
  for (const [name, empty] of MERGED_DEFAULTS) {
    if (!seen.has(name.toLowerCase())) appended.push(`${name}=${mergedValue(name.toLowerCase(), empty, p)!}`);
  }
  const body = out.join('\n');
  const sep = body === '' || body.endsWith('\n') ? '' : '\n';
  return `${body}${sep}# herd test sandbox: keys below were appended; the lines above keep their numbers\n${appended.join('\n')}\n`;
}

/** The controller named by the first SlurmctldHost line: `head(10.0.0.1)` -> {name: 'head', addr: '10.0.0.1'}. */
export function controllerHost(conf: string): { name: string; addr?: string } | undefined {
  for (const line of conf.split('\n')) {
    const [code] = splitSlurmComment(line);
    const m = /^\s*SlurmctldHost\s*=\s*([^\s(]+)(?:\(([^)\s]+)\))?/i.exec(code);
    if (m) return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, addr: m[2] };
  }
  return undefined;
}
