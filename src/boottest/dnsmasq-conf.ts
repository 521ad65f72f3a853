// dnsmasq's configuration for the boot test's virtual network (pure): herd's own compiled ww4-hosts.conf (the per-node
// dhcp-host lines, the iPXE chain to /ipxe/${mac:hexhyp}, the range) with what only a sandbox needs added: listen on the
// bridge alone, no DNS, no TFTP (QEMU's NIC ROM is iPXE already, so the chain goes straight to herd serve over HTTP), and
// leases, pid and log in the scratch folder.
import { renderDnsmasqHosts } from '../compile/dhcp-files.ts';
import type { ClusterModel } from '../spec/model.ts';

export interface DnsmasqPaths {
  readonly leaseFile: string;
  readonly pidFile: string;
}

/** Lines of the compiled file a sandbox must not act on: TFTP would serve a folder of the test machine. */
const DROP = /^(enable-tftp|tftp-root=)/;

export function bootTestDnsmasqConf(model: ClusterModel, bridge: string, p: DnsmasqPaths): string {
  // Template static whatever warewulf.dhcp_template says: the boot test checks each VM boots with the address the spec
  // gives it, from its first DHCP answer on (a site's dynamic range is the head's business, not the sandbox's).
  const compiled = renderDnsmasqHosts(model, '# herd boot-test: herd\'s compiled ww4-hosts.conf follows, TFTP lines removed', 'static')
    .split('\n')
    .map((l) => (DROP.test(l) ? `# (boot-test: no TFTP) ${l}` : l))
    .join('\n');
  return [
    `interface=${bridge}`,
    'bind-interfaces',
    'port=0',
    'no-resolv',
    'no-hosts',
    'dhcp-authoritative',
    `dhcp-leasefile=${p.leaseFile}`,
    `pid-file=${p.pidFile}`,
    'user=root',
    'group=root',
    'log-dhcp',
    '',
    compiled,
  ].join('\n');
}

/** `DHCPACK(<if>) <ip> <mac> <name>` lines of dnsmasq's log: which MAC got which address. */
export function dnsmasqAcks(log: string): Map<string, string> {
  const acks = new Map<string, string>();
  for (const m of log.matchAll(/DHCPACK\([^)]*\) (\d+\.\d+\.\d+\.\d+) ([0-9a-f:]{17})/gi)) acks.set(m[2]!.toLowerCase(), m[1]!);
  return acks;
}
