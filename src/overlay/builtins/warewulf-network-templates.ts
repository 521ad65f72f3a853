// Warewulf 4.6.5's network and provisioning distribution overlays, rendered byte for byte as its own templates render them
// (pure): ifcfg (EL network-scripts), ifupdown and its older name debian.interfaces (Debian /etc/network/interfaces.d),
// wicked (SUSE) and ignition (disk setup). A site whose default profile lists them keeps them with the same meaning.
//
// Each template reads the node's merged nodes.conf settings (nodeSettings) the way Go's text/template does: map keys in
// sorted order, a net.IP printed by its String() (RFC 5952 IPv6, `<nil>` when unset), `<no value>` for a missing map key,
// WWbool.BoolDefaultTrue() for onboot, Warewulf's IpCIDR/IpCIDR6 helpers, sprig's default/substr/splitList/regexSplit.
// The text is then cut into files exactly as Warewulf's overlay build (overlay.go BuildOverlayIndir) cuts it: each line
// holding a `{{ /* file "NAME" */ }}` marker (what the template's `{{ file "NAME" }}` prints) starts the next file, named
// relative to the template's folder; the lines before the first marker are not dropped but open the first file (so the
// first netdev's file starts with an empty line); output with no marker is the template's own file (ifcfg with no netdevs
// writes `network-scripts/ifcfg` holding one newline). Every file gets the template's mode and owner (0644 root, as
// `make install` installs them); static files are copied with theirs (also 0644: 10-ignition.sh is not executable).
//
// Where Warewulf's build fails, herd reports a problem instead of files: a route tag without a comma (`index ... 1` is out of
// range), and, as herd's own refusals, a netdev name that cannot be a file name, a value that holds Warewulf's marker text
// (it would name another file, even outside the overlay), or a line longer than Warewulf's 64 KiB scanner limit (silently
// truncated there). test/integration/overlay-oracles.test.ts builds Warewulf 4.6.5's own overlays from herd's nodes.conf
// and compares every file's bytes and mode.
import { posix } from 'node:path';
import type { SourceRef } from '../../diagnostics/diagnostic.ts';
import { parseIPv4 } from '../../spec/ipv4.ts';
import { formatIPv6, parseIPv6 } from '../../spec/ipv6.ts';
import { wwBoolDefaultTrue } from '../../spec/warewulf-facts.ts';
import type { BuiltinInput, BuiltinResult, OverlayFile, OverlayProblem } from '../types.ts';
import { file, symlink } from './entries.ts';
import { netdevs, settingsOf, type WwNetdev, type WwSettings } from './warewulf-templates.ts';

// ---------------------------------------------------------------------------------------------------------------------
// Go's net.IP, as Warewulf's netdev fields hold addresses (yaml -> net.IP.UnmarshalText -> net.ParseIP).

/** net.ParseIP: the 16 bytes of an IPv4 (as ::ffff:a.b.c.d) or IPv6 address; undefined for anything else. */
function parseIP(s: string): number[] | undefined {
  const v4 = parseIPv4(s);
  const v = v4 !== undefined ? (0xffffn << 32n) | BigInt(v4) : parseIPv6(s, { embeddedIPv4: true });
  if (v === undefined) return undefined;
  return Array.from({ length: 16 }, (_, i) => Number((v >> BigInt(8 * (15 - i))) & 0xffn));
}

/** net.IP.To4: the 4 bytes of an IPv4 address (or an IPv4-mapped IPv6 one), else undefined. */
function to4(ip: readonly number[]): number[] | undefined {
  if (ip.length === 4) return [...ip];
  return ip.slice(0, 10).every((x) => x === 0) && ip[10] === 0xff && ip[11] === 0xff ? ip.slice(12) : undefined;
}

/** net.IP.String: dotted for IPv4 (and IPv4-mapped), RFC 5952 for IPv6. */
function ipString(ip: readonly number[]): string {
  const v4 = to4(ip);
  if (v4) return v4.join('.');
  let v = 0n;
  for (const b of ip) v = (v << 8n) | BigInt(b);
  return formatIPv6(v);
}

const isUnspecified = (ip: readonly number[]): boolean => ip.every((x) => x === 0) || (to4(ip)?.every((x) => x === 0) ?? false);

/** A net.IP field is set (`{{ if $netdev.Ipaddr }}`): an empty value unmarshals to nil. */
const isSet = (v: string | undefined): v is string => v !== undefined && v !== '';

/** A net.IP field as `{{ $netdev.Ipaddr }}` prints it; herd validates addresses, so an unparsable one is printed as written. */
function ipText(v: string | undefined): string {
  if (!isSet(v)) return '<nil>';
  const ip = parseIP(v);
  return ip ? ipString(ip) : v;
}

/** net.IPNet's simpleMaskLength: the prefix length of a contiguous mask, else -1. */
function maskLength(mask: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    let v = mask[i]!;
    if (v === 0xff) {
      n += 8;
      continue;
    }
    while (v & 0x80) {
      n++;
      v = (v << 1) & 0xff;
    }
    if (v !== 0) return -1;
    for (i++; i < mask.length; i++) if (mask[i] !== 0) return -1;
    break;
  }
  return n;
}

/** Warewulf's NetDev.IpCIDR (node/methods.go): `address/prefix`, or `address/hexmask` for a non-contiguous netmask. */
function ipCIDR(d: WwNetdev): string {
  const ip = isSet(d.ipaddr) ? parseIP(d.ipaddr) : undefined;
  const nm = isSet(d.netmask) ? parseIP(d.netmask) : undefined;
  if (!ip || isUnspecified(ip) || !nm || isUnspecified(nm)) return '';
  // net.IPNet.String: an IPv4 address takes the last 4 bytes of the 16-byte mask (the netmask is a parsed net.IP).
  const addr = to4(ip) ?? ip;
  const mask = addr.length === 4 ? nm.slice(12) : nm;
  const l = maskLength(mask);
  return `${ipString(addr)}/${l < 0 ? mask.map((b) => b.toString(16).padStart(2, '0')).join('') : l}`;
}

/** Warewulf's NetDev.IpCIDR6: `address/prefix` for an IPv6 address with a prefix length 0..128 (strconv.Atoi), else "". */
function ipCIDR6(d: WwNetdev): string {
  const ip = isSet(d.ipaddr6) ? parseIP(d.ipaddr6) : undefined;
  if (!ip || isUnspecified(ip) || !d.prefixlen6 || to4(ip)) return '';
  if (!/^[+-]?[0-9]{1,19}$/.test(d.prefixlen6)) return '';
  const prefix = Number(d.prefixlen6);
  return prefix < 0 || prefix > 128 ? '' : `${ipString(ip)}/${prefix}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The template language's other readings.

/** Go's order of map keys: by UTF-8 bytes. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** `range $tk, $tv := $netdev.Tags`. */
const tagsOf = (d: WwNetdev): [string, string][] => Object.entries(d.tags ?? {}).sort(([a], [b]) => byBytes(a, b));

/** `{{ $netdev.Tags.key }}`: a missing key prints `<no value>` (missingkey=default). */
const tagText = (d: WwNetdev, key: string): string => (d.tags && Object.hasOwn(d.tags, key) ? d.tags[key]! : '<no value>');
/** `{{ if $netdev.Tags.key }}`. */
const tag = (d: WwNetdev, key: string): string => (d.tags && Object.hasOwn(d.tags, key) ? d.tags[key]! : '');

/** `{{ $netdev.OnBoot.BoolDefaultTrue }}`. */
const onboot = (d: WwNetdev): boolean => wwBoolDefaultTrue(d.onboot ?? '');

/** A template failed for this netdev: Warewulf's build stops, herd reports it. */
class TemplateFailure extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.hint = hint;
  }
}

/**
 * The netdev's route tags in Go's order (`eq (substr 0 5 $tk) "route"`): `dest,gateway` as
 * `index (splitList "," $tv) 0` and `... 1`. A value without a comma makes `index ... 1` fail the template.
 */
function routes(template: string, name: string, d: WwNetdev): [string, string][] {
  return tagsOf(d).filter(([k]) => k.startsWith('route')).map(([k, v]) => {
    const parts = v.split(',');
    if (parts.length < 2) throw new TemplateFailure(`Warewulf's ${template} template fails for network ${name}: its tag ${k} is "${v}", with no comma (index (splitList "," $tv) 1 is out of range)`, `write tag ${k} as destination,gateway, e.g. 192.168.1.0/24,10.0.0.254`);
    return [parts[0]!, parts[1]!];
  });
}

const FILE_MARKER = /^[^\n]*\{\{[\t\n\f\r ]*\/\*[\t\n\f\r ]*file[\t\n\f\r ]*["']([^\n]*)["'][\t\n\f\r ]*\*\/[\t\n\f\r ]*\}\}[^\n]*/;
const LINK_MARKER = /^[^\n]*\{\{[\t\n\f\r ]*\/\*[\t\n\f\r ]*softlink[\t\n\f\r ]*["']([^\n]*)["'][\t\n\f\r ]*\*\/[\t\n\f\r ]*\}\}[^\n]*/;
/** bufio.MaxScanTokenSize: Warewulf's line scanner stops (silently) at a longer line. */
const SCAN_LIMIT = 64 * 1024;
const encoder = new TextEncoder();

/**
 * Warewulf's BuildOverlayIndir for one template's output: lines (each with its newline) go to the current file; a line
 * holding a file marker writes the current file (unless none was named yet: its lines then open the named one) and names
 * the next, relative to the template's folder. `names`: the markers the template printed, in order; a marker anywhere
 * else (in a value) is refused, as are names that are no file name and lines past the scanner's limit.
 */
function splitOutput(template: string, outPath: string, text: string, names: readonly string[]): { files: OverlayFile[] } | { problems: OverlayProblem[] } {
  const fail = (message: string, hint: string, code = 'overlay/template-error'): { problems: OverlayProblem[] } => ({ problems: [{ code, message, hint }] });
  for (const n of names) {
    if (n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\n') || n.includes('\0')) {
      return fail(`Warewulf's ${template} template would name a file "${n}" after a network name, which is no file name`, 'give the network device a name of letters, digits, dots, dashes and underscores', 'overlay/bad-path');
    }
  }
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const files: OverlayFile[] = [];
  const dir = posix.dirname(outPath);
  let path = outPath;
  let buf = '';
  let named = false;
  let seen = 0;
  for (const line of lines) {
    const bytes = encoder.encode(line).length;
    if (bytes > SCAN_LIMIT || (bytes === SCAN_LIMIT && !line.endsWith('\n'))) return fail(`Warewulf's ${template} template would write a line of ${bytes} bytes to ${path}: its build stops reading the output there (64 KiB scanner limit) and writes a truncated file`, 'shorten the tag or value that makes the line');
    if (LINK_MARKER.test(line)) return fail(`a value of the node's network settings holds Warewulf's softlink marker text: Warewulf's ${template} template would make ${path} a symlink`, 'remove {{ /* softlink ... */ }} from the value');
    const m = FILE_MARKER.exec(line);
    if (!m) {
      buf += line;
      continue;
    }
    if (m[1] !== names[seen]) return fail(`a value of the node's network settings holds Warewulf's file marker text: Warewulf's ${template} template would write a file named "${m[1]}"`, 'remove {{ /* file ... */ }} from the value');
    seen++;
    // The first marker keeps what came before it (fileBuffer is reset only when a file is written).
    if (named) {
      files.push(file(path, buf));
      buf = '';
    }
    path = posix.join(dir, m[1]!);
    named = true;
  }
  if (seen !== names.length) return fail(`a value of the node's network settings breaks a line of Warewulf's ${template} template`, 'remove the newline from the value');
  files.push(file(path, buf));
  return { files };
}

/** A template rendered for a node: its output split as Warewulf does, or the problem that stops it. */
function rendered(template: string, outPath: string, render: (mark: (name: string) => string) => string): { files: OverlayFile[] } | { problems: OverlayProblem[] } {
  const names: string[] = [];
  let text: string;
  try {
    // What the template function `file` prints: the marker Warewulf's build splits the output at.
    text = render((n) => (names.push(n), `{{ /* file "${n}" */ }}`));
  } catch (e) {
    if (e instanceof TemplateFailure) return { problems: [{ code: 'overlay/template-error', message: e.message, hint: e.hint }] };
    throw e;
  }
  return splitOutput(template, outPath, text, names);
}

/** Several templates' files, or all their problems. */
function joined(parts: readonly ({ files: readonly OverlayFile[] } | { problems: readonly OverlayProblem[] })[]): BuiltinResult {
  const problems = parts.flatMap((p) => ('problems' in p ? p.problems : []));
  return problems.length > 0 ? { problems } : { files: parts.flatMap((p) => ('files' in p ? p.files : [])) };
}

/** The problems of a node's overlay pointed at the spec: the network device's tags (or the node) where herd knows them. */
function located(r: BuiltinResult, input: BuiltinInput): BuiltinResult {
  if (!('problems' in r)) return r;
  const at: SourceRef | undefined = input.node.at['self'];
  return { problems: r.problems.map((p) => {
    const dev = input.node.networks.find((d) => p.message.includes(`network ${d.name}:`));
    const where = dev?.at['tags'] ?? dev?.at['self'] ?? at;
    return p.at || !where ? p : { ...p, at: where };
  }) };
}

// ---------------------------------------------------------------------------------------------------------------------
// ifcfg: overlays/ifcfg/rootfs/etc/sysconfig/network-scripts/{ifcfg,route}.ww and etc/sysconfig/network.ww.

type Mark = (name: string) => string;
const HEAD = '# This file is autogenerated by warewulf';

/** ifcfg.ww: ifcfg-NAME.conf per netdev. With none, the range prints only the newline after it: the file `ifcfg`. */
function ifcfgText(s: WwSettings, mark: Mark): string {
  return netdevs(s).map(([name, d]) => {
    let t = `\n${mark(`ifcfg-${name}.conf`)}\n${HEAD}`;
    t += d.type === 'vlan' ? '\nVLAN=yes' : `\nTYPE=${d.type || 'Ethernet'}`;
    if (tag(d, 'master')) t += `\nSLAVE=yes\nMASTER=${tag(d, 'master')}`;
    if (d.device) t += `\nDEVICE=${d.device}`;
    t += `\nNAME=${name}`;
    if (d.mtu) t += `\nMTU=${d.mtu}`;
    t += '\nBOOTPROTO=static\nDEVTIMEOUT=10';
    if (isSet(d.ipaddr)) t += `\nIPADDR=${ipText(d.ipaddr)}`;
    if (isSet(d.netmask)) t += `\nNETMASK=${ipText(d.netmask)}`;
    if (isSet(d.gateway)) t += `\nGATEWAY=${ipText(d.gateway)}`;
    if (d.hwaddr) t += `\nHWADDR=${d.hwaddr}`;
    t += `\nONBOOT=${onboot(d)}\nIPV6INIT=yes\nIPV6_AUTOCONF=yes\nIPV6_DEFROUTE=yes\nIPV6_FAILURE_FATAL=no`;
    if (isSet(d.ipaddr6)) t += `\nIPV6ADDR="${ipText(d.ipaddr6)}"`;
    for (const [k, v] of tagsOf(d)) if (/^DNS[0-9]*$/.test(k)) t += `\n${k}=${v}`;
    const search = tag(d, 'DNSSEARCH');
    if (search) t += `\nDOMAIN="${search.split(/[ ;]+/).filter((x) => x !== '').join(' ')}"`;
    return t;
  }).join('') + '\n';
}

/** route.ww: route-NAME.conf per netdev, its route tags as `dest via gateway` (nothing at all with no netdev). */
function routeText(s: WwSettings, mark: Mark): string {
  return netdevs(s).map(([name, d]) => `\n${mark(`route-${name}.conf`)}\n${HEAD}${routes('ifcfg', name, d).map(([a, b]) => `\n${a} via ${b}`).join('')}\n`).join('');
}

/** The ifcfg overlay from a node's merged nodes.conf settings and its name (`.Id`). */
export function ifcfgFiles(s: WwSettings, id: string): BuiltinResult {
  const dir = 'etc/sysconfig/network-scripts';
  return joined([
    rendered('ifcfg', `${dir}/ifcfg`, (mark) => ifcfgText(s, mark)),
    rendered('ifcfg', `${dir}/route`, (mark) => routeText(s, mark)),
    { files: [file('etc/sysconfig/network', `NETWORKING=yes\nHOSTNAME=${id}\n`)] },
  ]);
}

// ---------------------------------------------------------------------------------------------------------------------
// ifupdown (4.6.5's name) and debian.interfaces (the copy 4.6.5 still installs): overlays/ifupdown/rootfs/etc/network/.

/** The static etc/network/interfaces: loopback, and the netdevs' files by `source`. */
const INTERFACES = `# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

`;

/** interfaces.d/default.ww: a file named after each netdev. The `{{ if }}`s inside lines leave their indentation. */
function interfacesText(s: WwSettings, mark: Mark): string {
  return netdevs(s).map(([name, d]) => {
    const dev = d.device ?? '';
    let t = `\n${mark(name)}\n${HEAD}`;
    if (onboot(d)) t += `\nauto ${dev}`;
    t += `\nallow-hotplug ${dev}`;
    if (isSet(d.ipaddr)) {
      t += `\niface ${dev} inet static\n  address ${ipText(d.ipaddr)}\n  netmask ${ipText(d.netmask)}`;
      t += `\n  ${isSet(d.gateway) ? `gateway ${ipText(d.gateway)}` : ''}\n  ${d.mtu ? `mtu ${d.mtu}` : ''}`;
      for (const [a, b] of routes('ifupdown', name, d)) t += `\n  up ip route add ${a} via ${b} dev ${dev}`;
    }
    if (isSet(d.ipaddr6)) {
      t += `\niface ${dev} inet6 static\n  address ${ipCIDR6(d)}`;
      t += `\n  ${isSet(d.gateway6) ? `gateway ${ipText(d.gateway6)}` : ''}\n  ${d.mtu ? `mtu ${d.mtu}` : ''}`;
    }
    return `${t}\n`;
  }).join('');
}

/** The ifupdown (or debian.interfaces) overlay from a node's merged nodes.conf settings. */
export function ifupdownFiles(s: WwSettings): BuiltinResult {
  return joined([
    { files: [file('etc/network/interfaces', INTERFACES)] },
    rendered('ifupdown', 'etc/network/interfaces.d/default', (mark) => interfacesText(s, mark)),
  ]);
}

// ---------------------------------------------------------------------------------------------------------------------
// wicked: overlays/wicked/rootfs/etc/wicked/ifconfig/ifcfg.xml.ww.

/** ifcfg-NAME.xml per netdev: always an IPv4 static block (an empty <local/> text without an address), IPv6 when set. */
function wickedText(s: WwSettings, mark: Mark): string {
  return netdevs(s).map(([name, d]) => {
    let t = `\n${mark(`ifcfg-${name}.xml`)}\n<!--\nThis file is autogenerated by warewulf\n-->\n<interface origin="static generated warewulf config">`;
    t += `\n  <name>${d.device ?? ''}</name>\n  <link-type>${d.type || 'ethernet'}</link-type>`;
    if (d.type === 'vlan') t += `\n  <vlan>\n    <device>${tagText(d, 'parent_device')}</device>\n    <tag>${tagText(d, 'vlan_id')}</tag>\n    <protocol>ieee802-1Q</protocol>\n  </vlan>`;
    if (d.mtu) t += `\n  <mtu>${d.mtu}</mtu>`;
    t += `\n  <control>\n    <mode>${onboot(d) ? 'boot' : 'manual'}</mode>\n  </control>\n  <firewall/>\n  <link/>`;
    t += '\n  <ipv4>\n    <enabled>true</enabled>\n    <arp-verify>true</arp-verify>\n  </ipv4>';
    t += `\n  <ipv4:static>\n    <address>\n      <local>${ipCIDR(d)}</local>\n    </address>`;
    if (isSet(d.gateway)) t += `\n    <route>\n      <nexthop>\n        <gateway>${ipText(d.gateway)}</gateway>\n      </nexthop>\n    </route>`;
    for (const [a, b] of routes('wicked', name, d)) t += `\n    <route>\n      <destination>${a}</destination>\n      <nexthop>\n        <gateway>${b}</gateway>\n      </nexthop>\n    </route>`;
    t += '\n  </ipv4:static>\n  <ipv6>\n    <enabled>true</enabled>\n    <privacy>prefer-public</privacy>\n    <accept-redirects>false</accept-redirects>\n  </ipv6>';
    if (isSet(d.ipaddr6)) t += `\n  <ipv6:static>\n    <address>\n      <local>${ipText(d.ipaddr6)}</local>\n    </address>\n  </ipv6:static>`;
    return `${t}\n</interface>\n`;
  }).join('');
}

/** The wicked overlay from a node's merged nodes.conf settings. */
export function wickedFiles(s: WwSettings): BuiltinResult {
  return rendered('wicked', 'etc/wicked/ifconfig/ifcfg.xml', (mark) => wickedText(s, mark));
}

// ---------------------------------------------------------------------------------------------------------------------
// ignition: overlays/ignition/rootfs. herd's nodes.conf has no disks, filesystems or ignition resource, and then
// Warewulf's templates render the same files for every node: ignition.json is `null` (IgnitionJson gives "" without
// disks, `toJson` of the missing resource "null"), the disks target wants nothing, and the mount and swap templates print
// no unit but the newline after their range, so Warewulf writes `ignition.mount` and `ignition.swap` holding one newline.

const SYSTEMD = 'etc/systemd/system';

const IGNITION_SERVICE = `[Unit]
Description=Ignition warewulf (disks)
Documentation=https://warewulf.org/
ConditionPathExists=/warewulf/ignition.json
ConditionPathExists=/usr/lib/dracut/modules.d/30ignition/ignition
ConditionPathExists=!/warewulf/run/.ignition-done
DefaultDependencies=false

# This stage runs between \`basic.target\` and \`initrd-root-device.target\`,
# see https://www.freedesktop.org/software/systemd/man/bootup.html
# Make sure to run before the file system checks, as sgdisk will trigger
# udev events, potentially resulting in race conditions due to disappearing
# devices.

# Note that CL runs this before \`local-fs-pre.target\` to allow for configs that
# completely wipe the rootfs. Though we're not there yet. But we still run
# before \`sysroot.mount\` on principle.
Before=initrd-root-device.target
Before=sysroot.mount

#OnFailure=emergency.target
#OnFailureJobMode=isolate

# This stage requires udevd to detect disk partitioning changes.
Requires=systemd-udevd.service
After=systemd-udevd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/lib/dracut/modules.d/30ignition/ignition --platform=metal --stage=disks --config-cache /warewulf/ignition.json
`;

const DISKS_TARGET = `# This file is autogenerated by warewulf

[Unit]
Description=mount ww4 disks
# make sure that the disks are available
Requires=ww-ignition.service
After=ww-ignition.service
Requisite=ww-ignition.service
# Get the mounts
`;

const IGNITION_SH = `#!/bin/sh

PATH=$PATH:/sbin:/usr/sbin:/bin:/usr/bin

if ! command -v info >/dev/null; then
    info() {
        printf '%s\\n' "$*"
    }
fi

if ! command -v die >/dev/null; then
    die() {
        printf '%s\\n' "$*" >&2
        exit 1
    }
fi

if command -v ignition >/dev/null; then :
    info "warewulf: ignition: partition and format disks"
    if ignition --config-cache="\${PREFIX}/warewulf/ignition.json" --platform=metal --stage=disks; then
        # Create marker file to signal successful completion
        # This prevents the systemd service from running ignition again after switch_root
        mkdir -p "\${PREFIX}/warewulf/run"
        echo "ignition run by 10-ignition.sh" >"\${PREFIX}/warewulf/run/.ignition-done"
    else
        die "warewulf: ignition: failed to partition/format disk"
    fi
else
    info "warewulf: ignition not found"
fi
`;

/** The ignition overlay for a node without disks, filesystems or an ignition resource (herd's nodes.conf has none). */
export function ignitionFiles(s: WwSettings): BuiltinResult {
  const storage = ['disks', 'filesystems'].filter((k) => s[k as 'disks' | 'filesystems'] !== undefined);
  if (s.resources && Object.hasOwn(s.resources, 'ignition')) storage.push('resources.ignition');
  if (storage.length > 0) {
    return { problems: [{ code: 'overlay/template-error', message: `herd renders Warewulf's ignition overlay only for nodes without disks; this node's settings have ${storage.join(', ')}`, hint: 'remove ignition from the overlay lists, or define a site overlay named ignition' }] };
  }
  return { files: [
    file(`${SYSTEMD}/ignition.mount`, '\n'),
    file(`${SYSTEMD}/ignition.swap`, '\n'),
    symlink(`${SYSTEMD}/local-fs.target.wants/ww-ignition-disks.target`, '../ww-ignition-disks.target'),
    symlink(`${SYSTEMD}/local-fs.target.wants/ww-ignition.service`, '../ww-ignition.service'),
    file(`${SYSTEMD}/ww-ignition-disks.target`, DISKS_TARGET),
    file(`${SYSTEMD}/ww-ignition.service`, IGNITION_SERVICE),
    file('warewulf/ignition.json', 'null'),
    file('warewulf/wwinit.d/10-ignition.sh', IGNITION_SH),
  ] };
}

// ---------------------------------------------------------------------------------------------------------------------
// The generators (index.ts GENERATORS).

export const ifcfg = (input: BuiltinInput): BuiltinResult => located(ifcfgFiles(settingsOf(input), input.node.name), input);
export const ifupdown = (input: BuiltinInput): BuiltinResult => located(ifupdownFiles(settingsOf(input)), input);
export const wicked = (input: BuiltinInput): BuiltinResult => located(wickedFiles(settingsOf(input)), input);
export const ignition = (input: BuiltinInput): BuiltinResult => located(ignitionFiles(settingsOf(input)), input);
