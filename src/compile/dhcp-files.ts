// The head's DHCP configuration from the resolved model (pure), as Warewulf 4.6.5's host overlay writes it for warewulf.conf's
// `dhcp: template` (static, herd's default, or default: the range without per-node entries):
// dnsmasq's /etc/dnsmasq.d/ww4-hosts.conf (EL10, OpenHPC 4, Warewulf >= 4.6.4) or ISC dhcpd's /etc/dhcp/dhcpd.conf. Warewulf owns each whole (no marker),
// so herd writes the same text after its own header line, and `wwctl configure dhcp` afterwards changes nothing of meaning.
import { compareHostnames } from '../spec/hostlist.ts';
import type { ClusterModel } from '../spec/model.ts';
import { atLeast } from '../spec/warewulf-facts.ts';
import { netdevsOf } from './nodes-conf.ts';

const PORT = 9873;
/** warewulf.conf's `tftp: ipxe` defaults (herd's warewulf.conf does not set them): DHCP client architecture → iPXE binary. */
const IPXE: readonly (readonly [string, string])[] = [
  ['00:00', 'undionly.kpxe'],
  ['00:07', 'ipxe-snponly-x86_64.efi'],
  ['00:09', 'ipxe-snponly-x86_64.efi'],
  ['00:0B', 'arm64-efi/snponly.efi'],
];
const basename = (p: string) => p.split('/').pop()!;

/** dnsmasq serves DHCP and TFTP on OpenHPC 4 heads with Warewulf >= 4.6.4 (the same test warewulf.conf's `systemd name` follows). */
export function usesDnsmasq(model: ClusterModel): boolean {
  return model.warewulf.layout === 'openhpc' && atLeast(model.warewulf.version, '4.6.4');
}

const sortedNodes = (model: ClusterModel) => [...model.nodes].sort((a, b) => compareHostnames(a.name, b.name));

/** Warewulf's `etc/dnsmasq.d/ww4-hosts.conf.ww` for an IPv4 head; template static adds one `dhcp-host` per node (MAC, client id, tag, address, name). */
export function renderDnsmasqHosts(model: ClusterModel, header: string, template: 'static' | 'default' = model.warewulf.dhcpTemplate): string {
  const ip = model.head.address;
  const lines = [
    header.trimEnd(),
    '',
    '# select the x86 hosts which will get the iXPE binary',
    'dhcp-match=set:bios,option:client-arch,0   #legacy boot',
    'dhcp-match=set:x86PC,option:client-arch, 7 #EFI x86-64',
    'dhcp-match=set:x86PC,option:client-arch, 6 #EFI x86-64',
    'dhcp-match=set:x86PC,option:client-arch, 9 #EFI x86-64',
    'dhcp-match=set:aarch64,option:client-arch, 11 #EFI aarch64',
    'dhcp-match=set:iPXE,77,"iPXE"',
    'dhcp-userclass=set:iPXE,iPXE',
    'dhcp-vendorclass=set:efi-http,HTTPClient:Arch:00016',
    'dhcp-option-force=tag:efi-http,60,HTTPClient',
    '# for http boot always use shim/grub',
    `dhcp-boot=tag:efi-http,"http://${ip}:${PORT}/efiboot/shim.efi"`,
    `dhcp-boot=tag:x86PC,"/warewulf/${IPXE[1]![1]}"`,
    `dhcp-boot=tag:aarch64,"/warewulf/${basename(IPXE[3]![1])}"`,
    '# iPXE binary will get the following configuration file',
    `dhcp-boot=tag:iPXE,"http://${ip}:${PORT}/ipxe/\${mac:hexhyp}?assetkey=\${asset}&uuid=\${uuid}"`,
    'dhcp-no-override',
    '# also act as tftp server',
    'enable-tftp',
    `tftp-root=/${model.warewulf.tftpDir}`,
    '',
    '# define the dhcp range',
    `dhcp-range=${model.network.dhcpRange.start},${model.network.dhcpRange.end},${model.network.netmask},6h`,
    ...(template === 'static' ? [
      '',
      '# hosts',
      // One line per netdev, as the template ranges over them all (a netdev without MAC or address just leaves those out).
      ...sortedNodes(model).flatMap((n) => netdevsOf(n).map((d) => `dhcp-host=${d.mac ? `${d.mac},id:00:03:00:01:${d.mac},` : ''}set:warewulf,${d.address ? `${d.address},` : ''}${d.address6 ? `[${d.address6}],` : ''}${n.name},infinite`)),
    ] : []),
  ];
  return lines.join('\n') + '\n';
}

/** Warewulf's `etc/dnsmasq.d/ww4-listen.conf.ww`: dnsmasq answers on the head's cluster address. */
export function renderDnsmasqListen(model: ClusterModel, header: string): string {
  // The blank line is the template's `{{ nobackup }}` line.
  return `${header.trimEnd()}\n\nlisten-address=${model.head.address}\n`;
}

/** Warewulf's `etc/dhcp/dhcpd.conf.ww` (no grub boot); template static adds one host block per node. */
export function renderDhcpdConf(model: ClusterModel, header: string): string {
  const template = model.warewulf.dhcpTemplate;
  const ip = model.head.address;
  const net = model.network;
  const out = [
    header.trimEnd(),
    '',
    'allow booting;',
    'allow bootp;',
    'ddns-update-style interim;',
    'authoritative;',
    '',
    'option space ipxe;',
    '',
    '# Tell iPXE to not wait for ProxyDHCP requests to speed up boot.',
    'option ipxe.no-pxedhcp code 176 = unsigned integer 8;',
    'option ipxe.no-pxedhcp 1;',
    '',
    'option space PXE;',
    'option PXE.mtftp-ip    code 1 = ip-address;',
    'option PXE.mtftp-cport code 2 = unsigned integer 16;',
    'option PXE.mtftp-sport code 3 = unsigned integer 16;',
    'option PXE.mtftp-tmout code 4 = unsigned integer 8;',
    'option PXE.mtftp-delay code 5 = unsigned integer 8;',
    '',
    'option architecture-type   code 93  = unsigned integer 16;',
    'if exists user-class and option user-class = "iPXE" {',
    `    filename "http://${ip}:${PORT}/ipxe/\${mac:hexhyp}?assetkey=\${asset}&uuid=\${uuid}";`,
    '} else {',
    ...IPXE.flatMap(([arch, bin]) => [`    if option architecture-type = ${arch} {`, `        filename "/warewulf/${basename(bin)}";`, '    }']),
    '}',
    `subnet ${net.network} netmask ${net.netmask} {`,
    '    max-lease-time 120;',
    `    range ${net.dhcpRange.start} ${net.dhcpRange.end};`,
    `    next-server ${ip};`,
    '}',
  ];
  if (template !== 'static') return out.join('\n') + '\n';
  // The template's whitespace, byte for byte: each netdev's block opens with a newline and ends with one, each node adds
  // one more, and so does the end of the list (so blocks of one node are one blank line apart, nodes two).
  const hosts: string[] = [];
  for (const n of sortedNodes(model)) {
    for (const d of netdevsOf(n)) {
      const body = [...(d.mac ? [`hardware ethernet ${d.mac};`] : []), ...(d.address ? [`fixed-address ${d.address};`] : []), ...(d.primary ? [`option host-name "${n.name}";`] : [])];
      hosts.push(`\nhost ${n.name}-${d.name}\n{${body.map((l) => `\n    ${l}`).join('')}\n}\n`);
    }
    hosts.push('\n');
  }
  return `${out.join('\n')}${hosts.join('')}\n\n`;
}
