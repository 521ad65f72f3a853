// The boot test's pure parts: reading consoles and herd serve's log, diagnosing a node, the head's slurm.conf and dnsmasq.conf.
// The console and log fixtures were captured from a real `herd boot-test` of the tiny busybox cluster (QEMU, iPXE ROM, dnsmasq).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { consoleFacts, hasSerialConsole, MilestoneClock } from '../../../src/boottest/console-events.ts';
import { diagnose, nodeRow, renderTable, type NodeObservation } from '../../../src/boottest/diagnose.ts';
import { bootTestDnsmasqConf, dnsmasqAcks } from '../../../src/boottest/dnsmasq-conf.ts';
import { headSlurmConf } from '../../../src/boottest/head-slurm-conf.ts';
import { ServerLogReader } from '../../../src/boottest/server-log.ts';
import { renderResult } from '../../../src/cli/commands/boot-test.ts';
import { miniModel } from '../compile/mini-spec.ts';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/boot-test/${name}`, import.meta.url)), 'latin1');
const tinyConsole = fixture('console-tiny-c1.log');
const tinyServe = fixture('serve-tiny.log');

describe('consoleFacts on a real iPXE + kernel + wwinit console', () => {
  const f = consoleFacts(tinyConsole);
  it('finds every milestone in boot order, and the address iPXE got by DHCP', () => {
    const order = ['ipxe', 'dhcp', 'script', 'kernel', 'init'].map((m) => f.milestones.get(m as never));
    expect(order.every((x) => x !== undefined)).toBe(true);
    expect([...order].sort((a, b) => a! - b!)).toEqual(order);
    expect(f.ipxeAddress).toBe('10.9.0.2');
    expect(f.dhcpFailed).toBe(false);
    expect(f.panic).toBeUndefined();
    expect(f.initramfsFailed).toBeUndefined();
    expect(f.milestones.has('systemd')).toBe(false);
  });

  it('reads systemd failures, the login prompt and the kernel\'s RAM and panic lines through colour escapes', () => {
    const text = [
      '[    1.100000] Initramfs unpacking failed: write error',
      '\x1b[0;1;39mWelcome to \x1b[0mDebian GNU/Linux 12 (bookworm)\x1b[0;1;39m!\x1b[0m',
      '[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mmunge.service\x1b[0m - MUNGE authentication service.',
      '[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mslurmd.service\x1b[0m - Slurm node daemon.',
      '[   30.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100',
      '',
      'from-image login: ',
    ].join('\r\n');
    const g = consoleFacts(text);
    expect(g.initramfsFailed).toBe('Initramfs unpacking failed: write error');
    expect(g.failedUnits).toEqual(['munge.service - MUNGE authentication service', 'slurmd.service - Slurm node daemon']);
    expect(g.panic).toBe('Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100');
    expect(g.loginHost).toBe('from-image');
    expect(g.milestones.has('systemd')).toBe(true);
  });

  it('MilestoneClock, fed the console in chunks, finds what consoleFacts finds, each at the chunk that showed it', () => {
    const clock = new MilestoneClock();
    const size = 97;
    for (let i = 0; i < tinyConsole.length; i += size) clock.push(tinyConsole.slice(i, i + size), i / size);
    expect([...clock.seen.keys()].sort()).toEqual([...consoleFacts(tinyConsole).milestones.keys()].sort());
    // The chunk holding the kernel banner's end, not earlier and not later.
    const banner = tinyConsole.indexOf('Linux version 6');
    expect(clock.seen.get('kernel')).toBe(Math.floor((banner + 'Linux version 6'.length - 1) / size));
    // getty's prompt waits without a newline: it still counts.
    const prompt = new MilestoneClock();
    prompt.push('Debian GNU/Linux 12 c1 ttyS0\r\n\r\nc1 lo', 1);
    prompt.push('gin: ', 2);
    expect(prompt.seen.get('login')).toBe(2);
  });

  it('sees iPXE failing to get an address', () => {
    expect(consoleFacts('iPXE initialising devices...ok\nConfiguring (net0 52:54:00:12:34:56)...... Connection timed out (http://ipxe.org/4c0a6035)\nNo more network devices\n').dhcpFailed).toBe(true);
  });

  it('knows when the kernel arguments put a console on the serial port', () => {
    expect(hasSerialConsole(['quiet', 'console=ttyS0,115200'])).toBe(true);
    expect(hasSerialConsole(['quiet', 'console=tty0'])).toBe(false);
  });
});

describe('ServerLogReader on herd serve\'s real log', () => {
  it('gives each stage of c1 in order with the file sent, across arbitrary chunk splits', () => {
    const r = new ServerLogReader();
    for (let i = 0; i < tinyServe.length; i += 37) r.push(tinyServe.slice(i, i + 37), i);
    const reqs = r.forMac('52-54-00-12-34-56'.replace(/-/g, ':'));
    expect(reqs.map((q) => q.stage)).toEqual(['ipxe', 'kernel', 'image', 'system', 'runtime']);
    expect(reqs.every((q) => q.sent !== undefined && q.problem === undefined)).toBe(true);
    expect(reqs[2]!.sent).toMatch(/provision\/images\/tiny\.img\.gz$/);
    expect(r.forMac('52:54:00:12:34:57')).toEqual([]);
  });

  it('attaches a 404 to the request it answers', () => {
    const r = new ServerLogReader();
    r.push('[d] request from hwaddr:52:54:00:aa:00:01 ipaddr:10.0.0.2:1000 | stage:system\n[d] SERV   : stage_file \'x\'\n[d] ERROR  : Not found: var/lib/warewulf/provision/overlays/c1/__SYSTEM__.img\n', 5);
    expect(r.forMac('52:54:00:AA:00:01')).toEqual([{ mac: '52:54:00:aa:00:01', stage: 'system', problem: 'Not found: var/lib/warewulf/provision/overlays/c1/__SYSTEM__.img', atMs: 5 }]);
  });
});

const base = (over: Partial<NodeObservation> = {}): NodeObservation => ({
  node: 'c1', mac: '52:54:00:aa:00:01', address: '10.0.0.2', memoryMiB: 512, memoryAt: 'cluster.yaml:20:5',
  facts: consoleFacts(''), consoleMs: new Map(), requests: [], timedOut: false, serialConsole: true, ...over,
});
const served = (stages: string[]) => stages.map((stage, i) => ({ mac: '52:54:00:aa:00:01', stage, sent: `f-${stage}`, atMs: 1000 * (i + 1) }));

describe('diagnose: the first thing that went wrong, in an admin\'s words', () => {
  it('a node up in Slurm is ready', () => {
    expect(diagnose(base({ slurmUpMs: 30_000, requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']) }))).toBeUndefined();
  });

  it('no DHCP answer names the MAC', () => {
    const d = diagnose(base({ facts: consoleFacts('iPXE initialising devices...ok\nNo configuration methods succeeded\n'), timedOut: true }));
    expect(d?.problem).toBe('no DHCP answer for 52:54:00:aa:00:01: iPXE could not configure the NIC');
  });

  it('iPXE stopping after its banner (a KVM that cannot run it) is no DHCP problem: the hint says --accel tcg, with QEMU\'s warning', () => {
    const banner = 'iPXE initialising devices...ok\niPXE 1.0.0+git-20190125.36a4c85-5.1 -- Open Source Network Boot Firmware -- http://ipxe.org\nPress Ctrl-B for the iPXE command line..\n';
    const d = diagnose(base({ facts: consoleFacts(banner), timedOut: true, qemuStderr: 'qemu-system-x86_64: warning: host doesn\'t support requested feature: CPUID.01H:ECX.pni [bit 0]\n' }));
    expect(d?.problem).toBe('iPXE stopped after its banner and never asked for an address');
    expect(d?.hint).toContain('pass --accel tcg (QEMU said: qemu-system-x86_64: warning: host doesn\'t support requested feature');
    // Once iPXE asked (Configuring ...), silence from DHCP is a DHCP problem again.
    expect(diagnose(base({ facts: consoleFacts(`${banner}Configuring (net0 52:54:00:aa:00:01)......\n`), timedOut: true }))?.problem).toBe('no DHCP answer for 52:54:00:aa:00:01: iPXE could not configure the NIC');
  });

  it('a 404 for a stage names the stage and the server\'s words', () => {
    const reqs = [...served(['ipxe', 'kernel', 'image']), { mac: '52:54:00:aa:00:01', stage: 'system', problem: 'Not found: overlays/c1/__SYSTEM__.img', atMs: 4000 }];
    const d = diagnose(base({ requests: reqs, facts: consoleFacts('iPXE initialising devices\nnet0: 10.0.0.2/255.255.255.0 gw 10.0.0.1\n'), timedOut: true }));
    expect(d?.problem).toBe('herd serve answered stage system with "Not found: overlays/c1/__SYSTEM__.img"');
    expect(d?.hint).toMatch(/herd apply/);
  });

  it('an image too big for RAM names the memory setting\'s line', () => {
    const d = diagnose(base({ requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']), facts: consoleFacts('[ 1.0] Initramfs unpacking failed: write error\n'), timedOut: true }));
    expect(d?.problem).toBe('the image does not fit in c1\'s 512 MiB of RAM: Initramfs unpacking failed: write error');
    expect(d?.hint).toContain('cluster.yaml:20:5');
  });

  it('a wrong hostname, failed units, a drained node and a timeout each say so', () => {
    const all = served(['ipxe', 'kernel', 'image', 'system', 'runtime']);
    expect(diagnose(base({ requests: all, facts: consoleFacts('Linux version 6\nfrom-image login:\n'), timedOut: true }))?.problem).toBe('c1 came up named "from-image"');
    expect(diagnose(base({ requests: all, facts: consoleFacts('[FAILED] Failed to start slurmd.service - Slurm node daemon.\n'), timedOut: true }))?.problem).toBe('units failed on c1: slurmd.service - Slurm node daemon');
    expect(diagnose(base({ requests: all, slurmState: 'drained', slurmReason: 'Low RealMemory', timedOut: true }))?.problem).toBe('slurmctld sees c1 as drained (Low RealMemory)');
    expect(diagnose(base({ requests: all, facts: consoleFacts('Linux version 6.1\n'), timedOut: true }))?.problem).toBe('not ready in time: got as far as the kernel');
    expect(diagnose(base({ requests: all.slice(0, 2), timedOut: true, serialConsole: false }))?.problem).toBe('not ready in time: got as far as stage kernel (no console=ttyS0 in the kernel arguments, so the console shows nothing after iPXE)');
  });

  it('a VM that stopped says how far it got', () => {
    const d = diagnose(base({ address: '10.9.0.2', requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']), facts: consoleFacts(tinyConsole), qemuExited: { code: 0, stderr: '' } }));
    expect(d?.problem).toBe('the VM stopped (QEMU exit 0) after reaching the image\'s /init');
  });
});

describe('the table', () => {
  it('has one row per node with stage times, in text and markdown', () => {
    const rows = [nodeRow(base({ slurmUpMs: 31_000, consoleMs: new Map([['dhcp', 2500]]), requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']) }))];
    expect(renderTable(rows, 'text')).toBe('node  dhcp  ipxe  kernel  image  system  runtime  slurmd up  result\nc1    2.5s  1.0s  2.0s    3.0s   4.0s    5.0s     31.0s      ready\n');
    expect(renderTable(rows, 'markdown').split('\n').slice(0, 3)).toEqual([
      '| node | dhcp | ipxe | kernel | image | system | runtime | slurmd up | result |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      '| c1 | 2.5s | 1.0s | 2.0s | 3.0s | 4.0s | 5.0s | 31.0s | ready |',
    ]);
  });
});

const conf = `# herd
ClusterName=lab
SlurmctldHost=head(10.0.0.1)
SlurmUser=slurm
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
ProctrackType=proctrack/cgroup
PrologSlurmctld=/etc/slurm/prolog.sh
NodeName=c[1-2] NodeAddr=10.0.0.[2-3] CPUs=2 RealMemory=1000
PartitionName=normal Nodes=c[1-2] Default=YES
`;

describe('headSlurmConf', () => {
  const paths = { stateDir: '/s/state', logFile: '/s/ctld.log', pidFile: '/s/ctld.pid' };
  const out = headSlurmConf(conf, paths);
  const lines = out.split('\n');
  it('moves only the controller\'s own settings, keeping every line number and the node settings byte for byte', () => {
    expect(lines.slice(0, 10)).toEqual([
      '# herd', 'ClusterName=lab', 'SlurmctldHost=head(10.0.0.1)', 'SlurmUser=root', 'StateSaveLocation=/s/state', 'SlurmctldLogFile=/s/ctld.log',
      'ProctrackType=proctrack/cgroup', '# herd boot-test dropped: PrologSlurmctld=/etc/slurm/prolog.sh',
      'NodeName=c[1-2] NodeAddr=10.0.0.[2-3] CPUs=2 RealMemory=1000', 'PartitionName=normal Nodes=c[1-2] Default=YES',
    ]);
    expect(out).toContain('\nSlurmctldPidFile=/s/ctld.pid\n');
    expect(out).toContain('\nAccountingStorageType=accounting_storage/none\n');
  });
  it('refuses Include, which would read a file of the test machine', () => {
    expect(() => headSlurmConf('Include /etc/slurm/nodes.conf\n', paths)).toThrow(/line 1: Include/);
  });
});

describe('the boot test\'s dnsmasq.conf', () => {
  it('is herd\'s compiled ww4-hosts.conf on the bridge only, without TFTP or DNS', () => {
    const model = miniModel(`defaults: { image: i }
nodes:
  c1: { mac: "52:54:00:12:34:56", address: 10.0.0.2 }
`);
    const text = bootTestDnsmasqConf(model, 'herdbr0', { leaseFile: '/s/leases', pidFile: '/s/pid' });
    expect(text).toMatch(/^interface=herdbr0\nbind-interfaces\nport=0\n/);
    expect(text).toContain('\ndhcp-host=52:54:00:12:34:56,id:00:03:00:01:52:54:00:12:34:56,set:warewulf,10.0.0.2,c1,infinite\n');
    expect(text).toContain('\ndhcp-boot=tag:iPXE,"http://10.0.0.1:9873/ipxe/${mac:hexhyp}?assetkey=${asset}&uuid=${uuid}"\n');
    expect(text.split('\n').filter((l) => /^(enable-tftp|tftp-root)/.test(l))).toEqual([]);
    expect(dnsmasqAcks('dnsmasq-dhcp[1]: 19 DHCPACK(herdbr0) 10.9.0.2 52:54:00:12:34:56 c1\n')).toEqual(new Map([['52:54:00:12:34:56', '10.9.0.2']]));
  });
});

describe('the report an admin pastes into a pull request', () => {
  const ready = (node: string, mac: string) => nodeRow(base({ node, mac, slurmUpMs: 40_000, consoleMs: new Map([['dhcp', 3000]]), requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']).map((r) => ({ ...r, mac })) }));
  const pass = {
    rows: [ready('c1', '52:54:00:aa:00:01'), ready('c2', '52:54:00:aa:00:02')],
    srun: { command: 'srun -N2 -w c[1-2] --chdir=/ -l hostname', code: 0, output: '0: c1\n1: c2', ok: true },
    ok: true, consoles: new Map(), logs: { slurmctld: '', dnsmasq: '', serve: '' }, network: '10.0.0.1/24', server: 'herd serve',
  };
  it('markdown: a heading, the table, the srun output and one verdict line', () => {
    const md = renderResult(pass, 'markdown', undefined, 'lab');
    expect(md).toBe(`### herd boot-test: lab

| node | dhcp | ipxe | kernel | image | system | runtime | slurmd up | result |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| c1 | 3.0s | 1.0s | 2.0s | 3.0s | 4.0s | 5.0s | 40.0s | ready |
| c2 | 3.0s | 1.0s | 2.0s | 3.0s | 4.0s | 5.0s | 40.0s | ready |

Times are from each VM's start: DHCP from the console, stages as herd serve saw the requests, then slurmctld seeing slurmd up.

\`srun -N2 -w c[1-2] --chdir=/ -l hostname\`:
\`\`\`
0: c1
1: c2
\`\`\`

PASS: 2 nodes booted from herd's artifacts (served by herd serve) and ran a Slurm job
`);
  });
  it('text: a failed node gets its diagnosis and hint, and the verdict counts the ready ones', () => {
    const failed = nodeRow(base({ node: 'c2', requests: served(['ipxe', 'kernel']), timedOut: true }));
    const text = renderResult({ ...pass, rows: [pass.rows[0]!, failed], ok: false }, 'text', '/x/.herd/lab/boot-test/run-1', 'lab');
    expect(text).toContain('c2: not ready in time: got as far as stage kernel\n  hint: raise --timeout');
    expect(text).toContain('FAIL: 1 of 2 nodes ready\nlogs kept in /x/.herd/lab/boot-test/run-1\n');
  });
  it('json: one envelope with every row', () => {
    const j = JSON.parse(renderResult(pass, 'json', undefined, 'lab')) as { command: string; exitCode: number; result: { nodes: { node: string; ok: boolean }[]; srun: { ok: boolean } } };
    expect([j.command, j.exitCode, j.result.nodes.map((n) => `${n.node}:${n.ok}`), j.result.srun.ok]).toEqual(['boot-test', 0, ['c1:true', 'c2:true'], true]);
  });
});

describe('a node up at the wrong address', () => {
  it('is named with both addresses, before its consequences (units failing, slurmd never registering)', () => {
    const d = diagnose(base({ requests: served(['ipxe', 'kernel', 'image', 'system', 'runtime']), neighborAddress: '10.0.0.99', facts: consoleFacts('[FAILED] Failed to start slurmd.service - Slurm node daemon.\nc1 login:\n'), timedOut: true }));
    expect(d?.problem).toBe('c1 came up at 10.0.0.99, but the spec gives it 10.0.0.2');
  });
});
