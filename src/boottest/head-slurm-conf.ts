// The slurm.conf the boot test's slurmctld runs on (pure): herd's compiled file with only the controller's own host
// settings moved into the scratch folder. Everything the nodes read stays byte for byte (their slurmd reads the copy in
// their overlay, or, configless, this one from slurmctld), so the booted nodes run exactly what apply would ship.

export interface HeadPaths {
  readonly stateDir: string;
  readonly logFile: string;
  readonly pidFile: string;
}

/** Controller-only keys and the value the sandbox gives them. SlurmUser root: no `slurm` account needed on the test machine. */
function overrides(p: HeadPaths): ReadonlyMap<string, readonly [string, string]> {
  const entries: [string, string][] = [
    ['SlurmUser', 'root'],
    ['StateSaveLocation', p.stateDir],
    ['SlurmctldPidFile', p.pidFile],
    ['SlurmctldLogFile', p.logFile],
    // "Running as primary controller" and node registrations are info lines; the boot test reads them.
    ['SlurmctldDebug', 'info'],
    ['AccountingStorageType', 'accounting_storage/none'],
    ['JobCompType', 'jobcomp/none'],
    ['MailProg', '/bin/true'],
  ];
  return new Map(entries.map(([k, v]) => [k.toLowerCase(), [k, v] as const]));
}

/** Controller-side programs and external services that do not exist in the sandbox: commented out. */
const DROPPED = new Set(
  ['PrologSlurmctld', 'EpilogSlurmctld', 'ResumeProgram', 'SuspendProgram', 'ResumeFailProgram', 'ResvProlog', 'ResvEpilog',
    'SlurmSchedLogFile', 'AccountingStorageHost', 'AccountingStorageBackupHost', 'AccountingStoragePort', 'AccountingStorageUser',
    'AccountingStoragePass', 'AccountingStorageEnforce', 'JobCompHost', 'JobCompLoc', 'JobCompPort', 'JobCompUser', 'JobCompPass',
  ].map((k) => k.toLowerCase()),
);

/** Lines describing the cluster (nodes, partitions, controller): never touched. */
const STRUCTURE = new Set(['nodename', 'partitionname', 'downnodes', 'nodeset', 'slurmctldhost', 'controlmachine', 'controladdr', 'backupcontroller', 'backupaddr']);

/** Splits a slurm.conf line at its first unescaped `#`. */
export function splitSlurmComment(line: string): [string, string] {
  for (let i = 0; i < line.length; i++) if (line[i] === '#' && line[i - 1] !== '\\') return [line.slice(0, i), line.slice(i)];
  return [line, ''];
}

/** A slurm.conf token's key, lower-cased (slurm.conf keys are case-insensitive): `NodeName=c1` -> `nodename`. */
export const slurmKeyOf = (token: string): string => (token.includes('=') ? token.slice(0, token.indexOf('=')) : token).toLowerCase();

/**
 * herd's slurm.conf with the controller's paths in the sandbox. Line numbers are kept (slurmctld's "line N" errors point
 * at the compiled file); keys the file lacks are appended after a marker comment. Refuses `Include`, which would read a
 * file of the test machine.
 */
export function headSlurmConf(conf: string, p: HeadPaths): string {
  const table = overrides(p);
  const seen = new Set<string>();
  const out = conf.split('\n').map((line, idx) => {
    const [code, comment] = splitSlurmComment(line);
    const tokens = code.trim().split(/\s+/).filter((t) => t !== '');
    const first = tokens[0];
    if (first === undefined || STRUCTURE.has(slurmKeyOf(first))) return line;
    if (/^include$/i.test(first)) throw new Error(`slurm.conf line ${idx + 1}: Include would read a file of this machine; the boot test runs herd's own files only`);
    let touched = false;
    const kept: string[] = [];
    for (const t of tokens) {
      const k = slurmKeyOf(t);
      const o = table.get(k);
      if (o) {
        kept.push(`${t.slice(0, k.length)}=${o[1]}`);
        seen.add(k);
        touched = true;
      } else if (DROPPED.has(k)) touched = true;
      else kept.push(t);
    }
    if (!touched) return line;
    if (kept.length === 0) return `# herd boot-test dropped: ${code.trim()}`;
    return kept.join(' ') + (comment === '' ? '' : ` ${comment}`);
  });
  const appended = [...table].filter(([k]) => !seen.has(k)).map(([, [name, value]]) => `${name}=${value}`);
  const body = out.join('\n');
  return `${body}${body.endsWith('\n') ? '' : '\n'}# herd boot-test: the controller's own settings, in its scratch folder\n${appended.join('\n')}\n`;
}
