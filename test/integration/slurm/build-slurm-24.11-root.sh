#!/usr/bin/env bash
# Builds a Debian 13 (trixie) root holding real Slurm 24.11 (slurmctld, slurmd, slurm-client) and munge, for the Slurm
# tests that check herd's slurm.conf against 24.11 (Debian 12, the test machine, ships 22.05). Idempotent: an existing
# complete root (marker file) is kept. Root: $HERD_SLURM_2411_ROOT, default /tmp/herd-slurm-24.11. Needs debootstrap and
# deb.debian.org. Prints the root's path on success.
set -euo pipefail
root=${HERD_SLURM_2411_ROOT:-/tmp/herd-slurm-24.11}
marker=$root/.herd-slurm-root-complete
if [[ -f "$marker" && -x "$root/usr/sbin/slurmctld" ]]; then
  echo "$root"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
mirror=${HERD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tmp=$root.building.$$
trap 'rm -rf --one-file-system "$tmp"' EXIT
rm -rf --one-file-system "$tmp"
# minbase keeps it small; the packages' maintainer scripts never start daemons inside a debootstrap chroot (no init).
# The downloaded packages are kept beside the root, so a rebuild does not fetch them again.
mkdir -p "$root.debs"
debootstrap --variant=minbase --cache-dir="$root.debs" --include=slurmctld,slurmd,slurm-client,munge trixie "$tmp" "$mirror" >&2
# A package that fails to configure leaves a root whose slurmctld may still run: require the real thing.
version=$(chroot "$tmp" /usr/sbin/slurmctld -V)
[[ "$version" =~ ^slurm(-wlm)?\ 24\.11\. ]] || { echo "unexpected Slurm in the trixie root: $version" >&2; exit 1; }
chroot "$tmp" /usr/sbin/slurmd -V >/dev/null
chroot "$tmp" /usr/sbin/munged --version >/dev/null
rm -rf "$tmp/var/cache/apt/archives/"*.deb
# The test sandbox bind-mounts its own hosts file here.
touch "$tmp/etc/hosts"
echo "$version" > "$tmp/.herd-slurm-root-complete"
rm -rf --one-file-system "$root"
mv "$tmp" "$root"
trap - EXIT
echo "$root"
