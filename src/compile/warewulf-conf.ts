// Warewulf 4.6 warewulf.conf from the resolved model (pure).
import { stringify } from 'yaml';
import { emitYaml, plainEverywhere } from '../artifacts/yaml-emit.ts';
import type { ClusterModel } from '../spec/model.ts';
import { atLeast } from '../spec/warewulf-facts.ts';
import { headExports } from './head-files.ts';

export function renderWarewulfConf(model: ClusterModel, header: string): string {
  const net = model.network;
  // EL10 heads (OpenHPC 4, Warewulf >= 4.6.4) serve DHCP and TFTP with dnsmasq instead of dhcpd/tftp.
  const dnsmasq = model.warewulf.layout === 'openhpc' && atLeast(model.warewulf.version, '4.6.4');
  const conf = {
    ipaddr: model.head.address,
    netmask: net.netmask,
    network: net.network,
    warewulf: {
      port: 9873,
      secure: false,
      'update interval': 60,
      // Off by default: herd builds the overlays (Warewulf's autobuild misses image changes: warewulf#1018). On, for a site
      // that had it, warewulfd rebuilds a node's overlays from herd's Warewulf templates (overlay/warewulf-twin.ts) to the
      // same files whenever nodes.conf is newer than them.
      'autobuild overlays': model.warewulf.autobuildOverlays,
      'host overlay': true,
    },
    dhcp: {
      enabled: true,
      // static (herd's default): one DHCP entry per node (MAC → address), which herd writes itself (dhcp-files.ts), so a MAC
      // or address change is planned; default: the dynamic range only, as a site that had it keeps.
      template: model.warewulf.dhcpTemplate,
      'range start': net.dhcpRange.start,
      'range end': net.dhcpRange.end,
      'systemd name': dnsmasq ? 'dnsmasq' : 'dhcpd',
    },
    tftp: { enabled: true, tftproot: `/${model.warewulf.tftpDir}`, 'systemd name': dnsmasq ? 'dnsmasq' : 'tftp' },
    nfs: {
      enabled: headExports(model).length > 0,
      'export paths': headExports(model).map((m) => ({ path: m.export, 'export options': m.exportOptions })),
      'systemd name': 'nfs-server',
    },
    ssh: { 'key types': [...model.warewulf.sshKeyTypes] },
  };
  // herd's own emitter when every free-text value (paths, export options) is one both emitters write plain; otherwise the
  // yaml package, as ever: the bytes are the same either way, and a short command does not load the yaml package for this.
  const free = [conf.tftp.tftproot, ...conf.nfs['export paths'].flatMap((e) => [e.path, e['export options']])];
  return header + (free.every(plainEverywhere) ? emitYaml(conf) : stringify(conf, { indent: 2, lineWidth: 0 }));
}
