// Unit tests for the slurm.conf sandbox rewrite used by the Slurm integration harness (pure).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { controllerHost, sandboxPaths, sandboxSlurmConf } from '../integration/slurm/sandbox-conf.ts';

const lab = readFileSync(new URL('../fixtures/slurm/lab.slurm.conf', import.meta.url), 'utf8');
const big = readFileSync(new URL('../fixtures/slurm/big.slurm.conf', import.meta.url), 'utf8');
const paths = sandboxPaths('/sb', '/sb/munge/munge.socket');

/** Key -> values over all general lines (first token only, as the generator writes one key per line). */
function generalKeys(conf: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of conf.split('\n')) {
    const m = /^([A-Za-z]+)=(\S*)/.exec(line);
    if (!m || /^(NodeName|PartitionName)$/i.test(m[1]!)) continue;
    const k = m[1]!.toLowerCase();
    keys.set(k, [...(keys.get(k) ?? []), m[2]!]);
  }
  return keys;
}

describe('sandboxSlurmConf', () => {
  for (const [name, conf] of [['lab', lab], ['big', big]] as const) {
    it(`${name}: keeps every line's number and the node/partition lines byte for byte`, () => {
      const inLines = realLines(conf);
      const outLines = sandboxSlurmConf(conf, paths).split('\n');
      expect(outLines.length).toBeGreaterThan(inLines.length);
      inLines.forEach((line, i) => {
        if (/^(NodeName|PartitionName|SlurmctldHost|ClusterName|#)/.test(line) || line === '') expect(outLines[i]).toBe(line);
        else expect(keyOfLine(outLines[i]!)).toBe(keyOfLine(line));
      });
    });

    it(`${name}: sets each sandbox key exactly once`, () => {
      const keys = generalKeys(sandboxSlurmConf(conf, paths));
      for (const [k, v] of keys) expect(v, k).toHaveLength(1);
      expect(keys.get('slurmuser')).toEqual(['root']);
      expect(keys.get('slurmduser')).toEqual(['root']);
      expect(keys.get('statesavelocation')).toEqual(['/sb/state']);
      expect(keys.get('slurmdspooldir')).toEqual(['/sb/spool/%n']);
      expect(keys.get('slurmdlogfile')).toEqual(['/sb/log/slurmd-%n.log']);
      expect(keys.get('slurmdpidfile')).toEqual(['/sb/run/slurmd-%n.pid']);
      expect(keys.get('proctracktype')).toEqual(['proctrack/linuxproc']);
      expect(keys.get('taskplugin')).toEqual(['task/none']);
      expect(keys.get('authinfo')).toEqual(['socket=/sb/munge/munge.socket']);
      expect(keys.get('slurmdparameters')).toEqual(['config_overrides']);
      expect(keys.get('plugstackconfig')).toEqual(['/sb/etc/plugstack.conf']);
      // Untouched keys stay as generated.
      expect(keys.get('selecttypeparameters')).toEqual(['CR_Core_Memory']);
      expect(keys.get('preempttype')).toEqual(['preempt/partition_prio']);
    });
  }

  it('rewrites a key where it stands, whatever its case, keeping trailing comments', () => {
    const out = sandboxSlurmConf('ClusterName=x\nslurmuser=slurm # the daemon user\nTaskPlugin=task/cgroup\n', paths).split('\n');
    expect(out[1]).toBe('slurmuser=root # the daemon user');
    expect(out[2]).toBe('TaskPlugin=task/none');
  });

  it('turns site scripts into comments on the same line', () => {
    const out = sandboxSlurmConf('ClusterName=x\nProlog=/etc/slurm/prolog.sh\nEpilog=/x HealthCheckProgram=/y\n', paths).split('\n');
    expect(out[1]).toBe('# herd-sandbox dropped: Prolog=/etc/slurm/prolog.sh');
    expect(out[2]).toBe('# herd-sandbox dropped: Epilog=/x HealthCheckProgram=/y');
  });

  it('adds to SlurmdParameters and AuthInfo instead of replacing what the generator chose', () => {
    const keys = generalKeys(sandboxSlurmConf('SlurmdParameters=l3cache_as_socket\nAuthInfo=cred_expire=30,socket=/run/munge/x\n', paths));
    expect(keys.get('slurmdparameters')).toEqual(['l3cache_as_socket,config_overrides']);
    expect(keys.get('authinfo')).toEqual(['socket=/sb/munge/munge.socket,cred_expire=30']);
    const again = generalKeys(sandboxSlurmConf('SlurmdParameters=config_overrides\n', paths));
    expect(again.get('slurmdparameters')).toEqual(['config_overrides']);
  });

  it('refuses Include, which would read a host file', () => {
    expect(() => sandboxSlurmConf('ClusterName=x\nInclude /etc/slurm/extra.conf\n', paths)).toThrow(/line 2: Include/);
  });

  it('leaves every line without a sandbox key untouched (property)', () => {
    const line = fc.oneof(
      fc.constantFrom('NodeName=c[1-2] NodeAddr=10.0.0.[2-3] CPUs=2 State=UNKNOWN', 'PartitionName=p Nodes=c1 SlurmUser=x', '# SlurmUser=x', '', '   '),
      fc.stringMatching(/^[A-Z][a-zA-Z]{2,12}=[a-z0-9/,]{0,10}$/),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
        const conf = lines.join('\n');
        const out = sandboxSlurmConf(conf, paths).split('\n');
        realLines(conf).forEach((l, i) => {
          const key = keyOfLine(l);
          if (key === undefined || /^(NodeName|PartitionName)$/.test(key) || !SANDBOX_KEYS.has(key.toLowerCase())) expect(out[i]).toBe(l);
        });
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

const SANDBOX_KEYS = new Set(
  ['SlurmUser', 'SlurmdUser', 'StateSaveLocation', 'SlurmdSpoolDir', 'SlurmctldPidFile', 'SlurmdPidFile', 'SlurmctldLogFile', 'SlurmdLogFile',
    'SlurmctldDebug', 'ProctrackType', 'TaskPlugin', 'JobAcctGatherType', 'AccountingStorageType', 'JobCompType', 'MailProg', 'PlugStackConfig',
    'AuthInfo', 'SlurmdParameters', 'Prolog', 'Epilog', 'PrologSlurmctld', 'EpilogSlurmctld', 'TaskProlog', 'TaskEpilog', 'SrunProlog',
    'SrunEpilog', 'HealthCheckProgram', 'RebootProgram', 'ResumeProgram', 'SuspendProgram', 'ResumeFailProgram', 'ResvProlog', 'ResvEpilog',
    'UnkillableStepProgram', 'SlurmSchedLogFile', 'AccountingStorageHost', 'AccountingStorageBackupHost', 'AccountingStoragePort',
    'AccountingStorageUser', 'AccountingStoragePass', 'AccountingStorageEnforce', 'JobCompHost', 'JobCompLoc', 'JobCompPort', 'JobCompUser',
    'JobCompPass'].map((k) => k.toLowerCase()),
);

/** The file's lines; the empty string after a final newline is not a line. */
function realLines(conf: string): string[] {
  const lines = conf.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function keyOfLine(line: string): string | undefined {
  return /^\s*([A-Za-z]+)=/.exec(line)?.[1];
}

describe('controllerHost', () => {
  it('reads name and address from the first SlurmctldHost line', () => {
    expect(controllerHost(lab)).toEqual({ name: 'head', addr: '10.0.0.1' });
    expect(controllerHost(big)).toEqual({ name: 'mgmt01', addr: '10.10.0.1' });
    expect(controllerHost('# SlurmctldHost=old(1.2.3.4)\nslurmctldhost=h2\nSlurmctldHost=h3(10.0.0.3)\n')).toEqual({ name: 'h2' });
    expect(controllerHost('ClusterName=x\n')).toBeUndefined();
  });
});
