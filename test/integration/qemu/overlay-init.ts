// Test helper (pure): the init scripts for booting herd's image + overlays through Warewulf's wwinit, and the parser for what they print.
//
// The chain under test: the kernel runs /init (wwinit's, from the system overlay) -> /warewulf/run-init -> the image's
// /sbin/init, which is {@link overlayReportInit}: it reports and applies what the overlays delivered, then powers off.

/** Printed last by {@link overlayReportInit}, right before `poweroff -f`. */
export const OVERLAY_BOOT_END = 'HERD-OVERLAY-BOOT-END';

/** Printed by {@link imageOwnInit}: the image's /init ran, so nothing replaced it with wwinit's. */
export const IMAGE_INIT_RAN = 'HERD-IMAGE-INIT-RAN';

/** A line Warewulf 4.6.5's /init echoes first (overlays/wwinit/rootfs/init); the report greps /init for it too. */
export const WWINIT_FIRST_LINE = 'warewulf: running pre-init wwinit process...';

export const NM_KEYFILE = '/etc/NetworkManager/system-connections/herd-provision.nmconnection';
export const NETWORKD_FILE = '/etc/systemd/network/20-herd-provision.network';

/**
 * The image's own /init, which the system overlay must overwrite. If it ever runs, the overlays were not unpacked over the
 * image (or /init was not in them): it prints `HERD-IMAGE-INIT-RAN <hostname>` and powers off instead of hanging the test
 * until its timeout.
 */
export function imageOwnInit(): string {
  return `#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
host=-
[ -f /etc/hostname ] && read -r host < /etc/hostname
echo "${IMAGE_INIT_RAN} $host"
echo "(the image's /init ran: no /init from a system overlay replaced it)"
poweroff -f
`;
}

/**
 * The image's /sbin/init, which run-init execs as WWINIT. Every report line is `HERD-<KEY> <value>`; kernel messages are
 * silenced first (`dmesg -n 1`) so they cannot land in the middle of one. It sets the hostname from /etc/hostname, loads
 * the NIC driver, and applies the address of the NetworkManager keyfile (else the networkd .network file) to the NIC the
 * file names, the way the real stack would, but with busybox `ip`.
 */
export function overlayReportInit(opts: { module: string; device: string }): string {
  const { module, device } = opts;
  return `#!/bin/sh
# herd overlay-boot test: the image's init, exec'd by wwinit's /warewulf/run-init (WWINIT=/sbin/init).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
say() { echo "HERD-$*"; }
dmesg -n 1
say "INIT-PID $$"
say "WWINIT-INIT $(grep -qF '${WWINIT_FIRST_LINE}' /init && echo yes || echo no)"
if [ -f /warewulf/config ]; then
  . /warewulf/config
  say "WWCONFIG $WWHOSTNAME $WWINIT $WWROOT"
else
  say "WWCONFIG missing"
fi
case "$(ip link show lo)" in *'<LOOPBACK,UP'*) say "LO up" ;; *) say "LO down" ;; esac

host=-
[ -f /etc/hostname ] && read -r host < /etc/hostname
hostname "$host"
say "HOSTNAME $(hostname)"

modprobe ${module} || say "MODPROBE-FAILED ${module}"
nmaddr=-; nmmac=-; ndaddr=-
if [ -f ${NM_KEYFILE} ]; then
  nmaddr=$(sed -n 's/^address1=\\([^,]*\\).*$/\\1/p' ${NM_KEYFILE})
  nmmac=$(sed -n 's/^mac-address=//p' ${NM_KEYFILE})
fi
[ -f ${NETWORKD_FILE} ] && ndaddr=$(sed -n 's/^Address=//p' ${NETWORKD_FILE})
say "NM-ADDRESS \${nmaddr:--}"
say "NM-MAC \${nmmac:--}"
say "NETWORKD-ADDRESS \${ndaddr:--}"
addr=$nmaddr
[ "$addr" = - ] || [ -z "$addr" ] && addr=$ndaddr
i=0
while [ ! -e /sys/class/net/${device} ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
say "NIC-MAC $(cat /sys/class/net/${device}/address 2>/dev/null || echo -)"
ip link set ${device} up
if [ -n "$addr" ] && [ "$addr" != - ]; then ip addr add "$addr" dev ${device} && say "APPLIED $addr"; fi
ip -4 addr show ${device}

st() { if [ -e "$2" ]; then say "STAT $1 $(stat -c '%a %u %g' "$2")"; else say "STAT $1 missing"; fi; }
st munge.key /etc/munge/munge.key
st ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
st nmconnection ${NM_KEYFILE}
st wwconfig /warewulf/config
st init /init

say "HOSTS $(grep -w "$(hostname)" /etc/hosts | tr -s ' \\t' ' ')"
say "RUNTIME-PASSWD $(grep -c '^alice:' /etc/passwd)"
st authorized_keys /root/.ssh/authorized_keys
say "SLURM-CONF $(grep '^ClusterName=' /etc/slurm/slurm.conf 2>/dev/null || echo missing)"
echo ${OVERLAY_BOOT_END}
poweroff -f
`;
}

/** The `HERD-<KEY> <value>` lines, the last one per key winning; `STAT` lines keyed as `STAT <name>`. */
export function parseOverlayReport(console: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of console.matchAll(/^HERD-([A-Z][A-Z-]*) ?(.*?)\s*$/gm)) {
    let key = m[1] ?? '';
    let value = m[2] ?? '';
    if (key === 'STAT') {
      const sp = value.indexOf(' ');
      key = `STAT ${value.slice(0, sp)}`;
      value = value.slice(sp + 1);
    }
    out.set(key, value);
  }
  return out;
}
