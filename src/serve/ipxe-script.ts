// The iPXE scripts warewulfd sends (pure): Warewulf 4.6.5's etc/ipxe/default.ipxe and unconfigured.ipxe, rendered as typed
// functions of their template variables (the same text Go's text/template makes of those files, whitespace trims included).

/** The template variables of warewulfd's provision handler (provision.go templateVars) that the two scripts read. */
export interface IpxeVars {
  /** Node id; also Fqdn and Hostname in warewulfd. */
  readonly id: string;
  /** The MAC from the request path, lower case with colons. */
  readonly hwaddr: string;
  readonly imageName: string;
  readonly ipaddr: string;
  readonly port: string;
  /** `ipaddr:port`, or `[ipaddr6]:port` for an IPv6 client. */
  readonly authority: string;
  /** nodes.conf kernel args joined with single spaces. */
  readonly kernelArgs: string;
  /** nodes.conf kernel version, else the version parsed from the kernel's path, else ''. */
  readonly kernelVersion: string;
  readonly root: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Network devices by netdev name (Go ranges over the map in sorted key order). */
  readonly netdevs: Readonly<Record<string, { readonly device?: string; readonly hwaddr?: string }>>;
}

/** Go's `range` over a map[string]: keys in byte order. */
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** etc/ipxe/default.ipxe of Warewulf 4.6.5 for one node. */
export function renderDefaultIpxe(v: IpxeVars): string {
  const noImage = v.imageName
    ? ''
    : `\necho !!\necho !! No image defined for ${v.id}.\necho !! Rebooting in 30s...\necho !!\nsleep 30\nreboot`;
  const menuEntry = v.tags['IPXEMenuEntry'];
  const method = menuEntry
    ? `\nset method ${menuEntry}`
    : '\n# https://github.com/warewulf/warewulf/issues/222\niseq ${platform} efi && set method imgextract || set method initrd';
  const dracutNet = Object.keys(v.netdevs)
    .sort(byteOrder)
    .map((name) => v.netdevs[name]!)
    .filter((d) => d.hwaddr && d.device)
    .map((d) => ` ifname=${d.device}:${d.hwaddr} ip=${d.device}:dhcp `)
    .join('');
  const kernelVersion = v.kernelVersion ? `\necho * KernelVersion: ${v.kernelVersion}` : '\necho * KernelVersion: (image default)';
  return `#!ipxe
echo 
echo Warewulf v4 (iPXE)
echo
set next start
goto metadata

:start${noImage}

set baseuri http://${v.authority}/provision/${v.hwaddr}
set uri \${baseuri}?assetkey=\${asset}&uuid=\${uuid}

echo Downloading kernel image...
kernel --name kernel \${uri}&stage=kernel || goto reboot${method}

:menu
menu Warewulf v4 image provisioning method
item imgextract Single-stage with imgextract
item initrd Single-stage with initrd
item initrd_nocompress Single stage with initrd (no compression)
item dracut Two stage with dracut
item shell iPXE shell
choose --default \${method} --timeout 2000 method && goto \${method} || goto menu

:imgextract
set next imgextract_continue
goto metadata
:imgextract_continue
echo
echo Downloading compressed image with imgextract...
imgextract --name image \${uri}&stage=image&compress=gz || goto error_use_initrd
echo Downloading compressed system overlay image with imgextract...
imgextract --name system \${uri}&stage=system&compress=gz || goto error_reboot
echo Downloading compressed runtime overlay image with imgextract...
imgextract --name runtime \${uri}&stage=runtime&compress=gz && set runtime_initrd initrd=runtime || echo Unable to download runtime overlay. (ignored)
goto boot_single_stage

:error_use_initrd
echo Encountered an error. Now using initrd.
goto initrd_continue

:initrd
set next initrd_continue
goto metadata
:initrd_continue
echo
echo Downloading compressed image with initrd...
initrd --name image \${uri}&stage=image&compress=gz || goto error_reboot
echo Downloading compressed system overlay with initrd...
initrd --name system \${uri}&stage=system&compress=gz || goto error_reboot
echo Downloading compressed runtime overlay with initrd...
initrd --name runtime \${uri}&stage=runtime&compress=gz && set runtime_initrd initrd=runtime || echo Unable to download runtime overlay. (ignored)
goto boot_single_stage

:initrd_nocompress
set next initrd_nocompress_continue
goto metadata
:initrd_nocompress_continue
echo
echo Downloading uncompressed image with initrd...
initrd --name image \${uri}&stage=image || goto error_reboot
echo Downloading uncompressed system overlay with initrd...
initrd --name system \${uri}&stage=system || goto error_reboot
echo Downloading uncompressed runtime overlay with initrd...
initrd --name runtime \${uri}&stage=runtime && set runtime_initrd initrd=runtime || echo Unable to download runtime overlay. (ignored)
goto boot_single_stage

:dracut
set next dracut_continue
goto metadata
:dracut_continue
echo
echo Downloading dracut initramfs...
initrd --name initramfs \${uri}&stage=initramfs || goto error_reboot
set dracut_net rd.neednet=1 ${dracutNet}
set dracut_wwinit root=wwinit:${v.root || 'tmpfs'} wwinit.uri=\${baseuri} init=/warewulf/run-init
goto boot_two_stage_dracut

:boot_single_stage
echo Booting (single stage)...
boot kernel initrd=image initrd=system \${runtime_initrd} wwid=${v.hwaddr} ${v.kernelArgs} || goto error_reboot

:boot_two_stage_dracut
echo Booting dracut (first stage)...
boot kernel initrd=initramfs \${dracut_net} \${dracut_wwinit} wwid=${v.hwaddr} ${v.kernelArgs} || error_reboot

:error_reboot
echo !!
echo !! Encountered an error.
echo !! rebooting in 15s...
echo !!
sleep 15
reboot

:shell
shell
goto menu

:metadata
echo Warewulf Server:
echo * Ipaddr: ${v.ipaddr}
echo * Port: ${v.port}
echo * Authority: ${v.authority}
echo
echo This node:
echo * Fqdn: ${v.id}
echo * Hwaddr: ${v.hwaddr}
echo * ImageName: ${v.imageName}${kernelVersion}
echo * KernelArgs: ${v.kernelArgs}
goto \${next}
`;
}

/** etc/ipxe/unconfigured.ipxe of Warewulf 4.6.5 (no trailing newline, as the file has none): shows the MAC, reboots after 60 s. */
export function renderUnconfiguredIpxe(hwaddr: string): string {
  return `#!ipxe

echo
echo ================================================================================
echo Warewulf v4
echo
echo MESSAGE: This node is unconfigured. Please have your system administrator add a
echo          configuration for this node with HW address: ${hwaddr}
echo
echo Rebooting in 1 minute...
sleep 60
reboot`;
}
