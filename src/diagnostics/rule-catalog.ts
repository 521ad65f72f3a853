// The catalogue of every rule id herd can report (pure data): summary and rationale, printed by `herd explain`.
// A test requires each rule here to have a failing fixture, and every rule a diagnostic uses to be listed here.

export interface RuleDoc {
  readonly summary: string;
  readonly rationale: string;
}

const SEED = 'From the seed lab (OpenHPC 4 / Rocky 10 / Warewulf 4): ';

export const RULES: Readonly<Record<string, RuleDoc>> = {
  'yaml/syntax': { summary: 'The file is not valid YAML.', rationale: 'herd reads the spec with the yaml package in strict mode; any syntax error stops validation of the rest, since positions after it are unreliable.' },
  'yaml/duplicate-key': { summary: 'A key appears twice in one map.', rationale: 'Most YAML loaders silently keep the last value, so the first is lost without a word. herd refuses duplicates and points at the second occurrence.' },
  'yaml/encoding': { summary: 'The file is not valid UTF-8.', rationale: 'A spec with invalid bytes would be read differently by different tools; herd refuses to guess.' },
  'yaml/alias': { summary: 'An alias is undefined or expands too much.', rationale: 'Nested aliases can expand exponentially ("billion laughs"); herd caps expansions.' },
  'yaml/empty': { summary: 'The spec file is empty.', rationale: 'An empty file is almost always a mistake (wrong path, truncated write).' },
  'schema/unknown-key': { summary: 'A key the spec language does not have.', rationale: 'Warewulf and Ansible silently drop unknown keys, so a typo quietly does nothing. herd treats it as an error and suggests the closest known key.' },
  'schema/missing-key': { summary: 'A required key is missing.', rationale: 'The spec must say what herd cannot safely default (cluster name, network, head, images, nodes).' },
  'schema/wrong-type': { summary: 'A value has the wrong type.', rationale: 'e.g. a list where a single value is expected. The message names the expected type.' },
  'schema/invalid-value': { summary: 'A value outside the allowed set.', rationale: 'Enumerated settings (overlay kind, Warewulf version, layout...) accept only the listed values.' },
  'schema/out-of-range': { summary: 'A number or length outside its bounds.', rationale: 'e.g. a PriorityTier above 65535, which slurmctld refuses.' },
  'schema/invalid-format': { summary: 'A string in the wrong format.', rationale: 'e.g. a size that is not like 6GiB.' },
  'schema/unsupported-version': { summary: 'The apiVersion is not one this herd understands.', rationale: 'The format is versioned from day one so the language can evolve; herd refuses versions it does not know rather than misreading them.' },
  'spec/ignore-without-reason': { summary: 'A herd-ignore comment without a reason.', rationale: 'Silencing a rule is a decision reviewers should see justified: write `# herd-ignore: rule/id because ...`.' },
  'spec/unused-ignore': { summary: 'A herd-ignore comment that silences nothing.', rationale: 'Stale suppressions hide future problems; remove them.' },
  'node/hostlist-syntax': { summary: 'A hostlist that Slurm would not accept.', rationale: 'herd expands hostlists exactly as Slurm does (zero padding from the low bound, several bracket groups as a product). Slurm 22.05 rejects text after a bracket (c[1-2]-ib), so herd does too.' },
  'node/invalid-name': { summary: 'A node name that is not a valid host name.', rationale: 'The node id becomes the hostname, the Slurm NodeName and the Warewulf node id.' },
  'node/too-many-nodes': { summary: 'A spec of more nodes than herd validates (1,000,000).', rationale: 'Validation holds every node in memory (about 2 KB each); past the limit the spec is refused before any node is made, instead of the process running out of memory. The inventory CSV is held to the same count.' },
  'node/duplicate-name': { summary: 'A node defined twice.', rationale: 'slurmctld refuses a node name defined twice (even once via a range and once alone); Warewulf would merge them unpredictably.' },
  'node/list-size-mismatch': { summary: 'A MAC or address list whose length differs from its hostlist.', rationale: 'Slurm silently gives one address to every node of a range when only one is listed; both nodes look idle until the first multi-node job fails ("Job credential replayed").' },
  'node/missing-image': { summary: 'A node with no image.', rationale: 'A stateless node has nothing else to boot.' },
  'node/memory-too-small': { summary: 'Node memory under twice the image size.', rationale: SEED + 'nodes with 3 GiB panicked with "Initramfs unpacking failed: write error". The initramfs root is a tmpfs capped at half of RAM; past it the kernel stops unpacking and silently drops the overlays too.' },
  'ref/unknown-profile': { summary: 'A reference to a profile that is not defined.', rationale: 'Profiles are applied only when named; a typo would silently drop settings.' },
  'ref/unknown-image': { summary: 'A reference to an image that is not defined.', rationale: 'Warewulf would fail to provision the node.' },
  'ref/unknown-overlay': { summary: 'An overlay that is neither built in nor defined.', rationale: 'In Warewulf 4.6 a non-existent overlay makes the whole overlay image of that node fail to build.' },
  'ref/unknown-node': { summary: 'A reference to a node that is not defined.', rationale: 'slurmctld refuses to start when a partition names a node without a NodeName line.' },
  'net/missing-prefix': { summary: 'The network has no prefix length / netmask.', rationale: SEED + 'without --netmask Warewulf generated a NetworkManager profile with a blank address=, and the node booted with no IP at all.' },
  'net/inconsistent-netmask': { summary: 'A netmask that disagrees with the network prefix.', rationale: 'Two sources of the netmask that disagree give nodes a different view of the network than the head.' },
  'net/host-bits-set': { summary: 'A network address with host bits set.', rationale: 'Probably a typo: 10.0.0.5/24 means 10.0.0.0/24.' },
  'net/malformed-address': { summary: 'A value that is not an IPv4 address.', rationale: 'Warewulf stores addresses as Go net.IP and fails to parse anything else.' },
  'net/address-with-prefix': { summary: 'An address written with a /prefix.', rationale: 'nodes.conf needs a bare ipaddr and a dotted netmask; herd derives the prefix from network.cidr so it can never be blank or inconsistent.' },
  'net/address-outside-network': { summary: 'An address outside the provisioning network.', rationale: 'The node would be unreachable from the head on the provisioning network.' },
  'net/reserved-address': { summary: 'A node given the network or broadcast address.', rationale: 'Those addresses cannot be assigned to a host.' },
  'net/address-range-overflow': { summary: 'Addresses counted from a start address run out of the network.', rationale: 'A range of N nodes takes N consecutive addresses from its start address.' },
  'net/duplicate-address': { summary: 'Two nodes with one address.', rationale: 'Warewulf does not check this; it yields duplicate hosts entries and DHCP leases.' },
  'net/head-address-conflict': { summary: 'A node with the head node\'s address.', rationale: 'The node would take over the head\'s address on the provisioning network.' },
  'net/duplicate-mac': { summary: 'Two nodes with one MAC.', rationale: 'warewulfd keeps only the last node of a duplicated MAC, silently (warewulf#1264): the other node boots as the wrong machine.' },
  'net/malformed-mac': { summary: 'A value that is not a unicast MAC address.', rationale: 'PXE registration is by MAC: it is the only identity a booting node has.' },
  'net/missing-mac': { summary: 'A node without a MAC.', rationale: SEED + 'Warewulf matches the MAC in the DHCP request to say "you are c1"; without one the node can never be recognised.' },
  'net/missing-address': { summary: 'A node without an address.', rationale: 'Slurm gets a literal NodeAddr for every node and Warewulf a static address; both need one.' },
  'ipmi/missing-netmask': { summary: 'A BMC written at boot with an address but no netmask.', rationale: "wwinit's IPMI step (ipmi write) sets the BMC's address and then its netmask only when one is given: the BMC keeps whatever mask it had, and may be unreachable from the head." },
  'net/missing-netmask': { summary: 'A network device with an address but no netmask.', rationale: SEED + 'without a netmask Warewulf generated a NetworkManager profile with a blank address=, and the device came up with no IP at all.' },
  'net/missing-prefix6': { summary: 'An IPv6 address without prefix6.', rationale: 'Warewulf writes an IPv6 address only with its prefix length (IpCIDR6 is empty without one), so its own templates leave the address out.' },
  'net/gateway6-unsupported': { summary: 'An IPv6 gateway on a Warewulf release without the gateway6 key.', rationale: 'gateway6 arrived in Warewulf 4.6.5; earlier releases drop the unknown key without a word.' },
  'net/vlan-incomplete': { summary: 'A VLAN device without its parent or id.', rationale: 'Warewulf\'s NetworkManager template writes parent= and id= from the tags parent_device and vlan_id; without them NetworkManager refuses the connection.' },
  'net/unknown-bond': { summary: 'A bond member naming no bond of the node.', rationale: 'A device whose tags.master names nothing is enslaved to a bond that never exists: NetworkManager leaves it down and the node loses that link.' },
  'net/netname-conflict': { summary: 'A network device named like the provisioning NIC.', rationale: 'Warewulf keys network devices by name: the two would merge into one device with mixed settings.' },
  'net/dhcp-range-overlap': { summary: 'The DHCP pool contains static addresses.', rationale: 'A PXE client could be leased a node\'s address. herd picks a free block by default.' },
  'inventory/missing-file': { summary: 'The inventory CSV named by the spec does not exist.', rationale: 'Nodes would have no MACs.' },
  'inventory/csv-syntax': { summary: 'A malformed inventory CSV.', rationale: 'The inventory needs a header row with a name column.' },
  'inventory/duplicate-row': { summary: 'Two inventory rows for one node.', rationale: 'Which MAC is real would be ambiguous.' },
  'inventory/unknown-node': { summary: 'An inventory row for a node the spec does not define.', rationale: 'Rows join to nodes by name; an orphan row usually means a renamed or removed node.' },
  'inventory/conflict': { summary: 'Spec and inventory disagree about a node.', rationale: 'Keep each fact in one place.' },
  'paths/outside-spec-folder': { summary: 'A file or folder the spec names lies outside the spec\'s folder.', rationale: 'herd validate runs on pull requests anyone can open, and as root on head nodes; its messages become pull-request annotations. A spec that could name /etc/shadow or ../../proc/self/environ as its inventory would print secrets into the review. So every path a spec names (inventory, overlays.<name>.source, the default overlays/<name>) must resolve inside the spec\'s folder: an absolute path elsewhere, a `..` that climbs out, or a symlink whose target leaves the folder is refused on the spec line that names it, and the file is never opened. Symlinks that stay inside are followed.' },
  'paths/unreadable-input': { summary: 'An input herd will not read: not a regular file, too large, or unreadable.', rationale: 'herd reads only regular files: a FIFO would hang validate forever and a device could stream without end, so neither is ever opened. An inventory or overlay file over 64 MiB (or inputs over 256 MiB in all) is refused instead of read. Inside an overlay folder, directories are walked, symlinks are listed as symlinks and never followed (a systemd .wants link names a path on the node), and FIFOs, sockets and devices are reported here.' },
  'slurm/default-partition': { summary: 'No default partition, or several.', rationale: 'With none, jobs without -p are rejected; with two, Slurm silently makes the last one the default.' },
  'slurm/time-format': { summary: 'A time limit Slurm cannot read.', rationale: 'slurmctld refuses unit suffixes (2h), decimals and four colon fields.' },
  'slurm/ambiguous-time': { summary: 'A time limit that probably does not mean what it says.', rationale: 'In Slurm a bare M:S like MaxTime=2:00 is two minutes, not two hours; 0 kills jobs at once.' },
  'slurm/unknown-key': { summary: 'A pass-through key Slurm does not know.', rationale: 'slurmctld refuses any unknown key and names the line.' },
  'slurm/version-key': { summary: 'A pass-through key another Slurm version takes, or one this version calls defunct.', rationale: 'Slurm adds and drops keys between releases: 22.05 refuses MaxBatchRequeue, 24.11 refuses SlurmctldPlugstack and ignores PowerPlugin as defunct. slurm.version says which release the cluster runs.' },
  'slurm/omit-unwritten': { summary: 'slurm.extra sets to null a key herd does not write.', rationale: 'null leaves out one of herd\'s default general keys so Slurm takes its own default; on any other key it says nothing.' },
  'slurm/owned-key': { summary: 'A pass-through key that herd writes itself.', rationale: 'Setting it twice would make the spec and slurm.conf disagree.' },
  'slurm/node-name-resolution': { summary: 'A node setting that would make slurmd resolve names.', rationale: SEED + 'on EL10 nss-myhostname answers a lookup of the node\'s own name with its IPv6 link-local address, which slurmd cannot bind ("Unable to bind listen port (6818)"). herd always writes a literal NodeAddr.' },
  'slurm/preempt-mode': { summary: 'A preemption setting that silently never preempts.', rationale: 'A per-partition PreemptMode=SUSPEND under a global REQUEUE is accepted and then nothing is preempted; equal PriorityTiers never preempt each other.' },
  'slurm/cpu-topology': { summary: 'CPUs disagree with sockets x cores x threads.', rationale: 'slurmd marks a node whose reported topology is lower than slurm.conf as invalid.' },
  'slurm/empty-partition': { summary: 'A partition without nodes.', rationale: 'A partition must name at least one node.' },
  'image/invalid-name': { summary: 'An image name Warewulf does not accept.', rationale: 'Warewulf image names must match ^[\\w\\-\\.\\:]+$.' },
  'image/source-syntax': { summary: 'An image source without a known transport.', rationale: 'herd reads docker://, oci:, oci-archive:, docker-archive:, dir: and tar: sources.' },
  'image/unpinned-source': { summary: 'A registry image referenced by a floating tag.', rationale: 'A tag can move; two builds of the same spec would differ. Pin with @sha256:.' },
  'image/pin-collision': { summary: 'Two accounts pinned to one ID.', rationale: 'Files of one account would belong to the other.' },
  'image/missing-nfs-client': { summary: 'NFS mounts but no mount.nfs required in the image.', rationale: SEED + '/home refused to mount with "NFS: mount program didn\'t pass remote address" because nfs-utils was not in the image.' },
  'image/missing-slurm-programs': { summary: 'Slurm nodes whose image does not require slurmd and munged.', rationale: 'Requiring them makes the image build verify they are really in the artifact.' },
  'overlay/missing-source': { summary: 'A site overlay without its template folder.', rationale: 'Site overlays are folders beside the spec, laid out as on the node.' },
  'overlay/early-boot-in-runtime': { summary: 'An early-boot file in a runtime overlay.', rationale: SEED + 'a file that must exist before early boot (a tmpfiles.d rule, units, mounts) cannot live in a runtime overlay, because wwclient applies those after the OS is already up. It bit both slurmd and the /home mount.' },
  'overlay/no-herd-overlay': { summary: "Slurm nodes without herd-boot or herd-slurm.", rationale: "Their munge key and slurm.conf then come from the image, and herd cannot hold them to the head's: the munge key or UID drift and the slurm.conf mismatch of the seed. An imported site keeps its own way until its images stop bringing them." },
  'overlay/not-built-by-herd': { summary: "A Warewulf distribution overlay herd does not build (netplan, localtime, sfdisk, mkfs, systemd.mount...).", rationale: "herd renders every node's overlays itself, as typed functions of the spec, and builds Warewulf's network stacks from the spec; a name it does not build would silently give the node nothing. Define a site overlay of that name with your own files instead." },
  'overlay/invalid-name': { summary: 'An overlay name Warewulf does not accept.', rationale: 'Warewulf 4.6 overlay names must match ^[a-zA-Z0-9-._:]+$; nodes.conf names them.' },
  'paths/head-file-not-allowed': { summary: 'A head file the overlays would read from an unexpected place.', rationale: 'herd also builds overlays in CI for pull requests anyone can open; a spec naming /etc/shadow as its munge key would pack it into every node. Each head input is held to the folder its kind lives in on a Warewulf head.' },
};

/**
 * Rules reported while building overlays (herd build/plan/apply), about what the overlays read on the head and render per
 * node. Covered by the unit tests of src/overlay and the overlay integration tests, not by validate fixtures.
 */
export const OVERLAY_RULES: Readonly<Record<string, RuleDoc>> = {
  'overlay/pending': { summary: "Overlays that cannot be built on this machine now.", rationale: "The munge key, the SSH host keys, root's authorized_keys, the Warewulf install (wwinit, wwclient) or the image's accounts are not here (a laptop, CI): nothing is written for those nodes' overlays and whatever was applied before is kept. Build on the head, as root." },
  'overlay/warewulf-rebuild': {
    summary: "A node's overlay that Warewulf's own `wwctl overlay build` could not make as herd built it.",
    rationale: "herd writes its overlays as Warewulf templates too, so the habit of running wwctl overlay build (or warewulfd rebuilding a missing image) gives nodes the very files herd built. Warewulf's template output cuts a line over 64 KiB and takes a line holding its own file or softlink marker for an instruction; one overlay's folders have one owner for every node; setuid bits are lost. For such a node the templates fail Warewulf's build with herd's reason, leaving herd's archive in place: run herd apply, not wwctl overlay build.",
  },
  'overlay/munge-key': { summary: 'The munge key cannot be used.', rationale: 'munged needs a regular file of 32 to 1024 bytes; herd reads it on the head when building, never from git, and shows only its hash.' },
  'overlay/host-keys': { summary: 'An SSH host key cannot be read.', rationale: 'Host keys come from the head (wwctl configure ssh puts them in /etc/warewulf/keys); Warewulf writes an empty key file when one is missing (#1978), herd refuses.' },
  'overlay/no-host-keys': { summary: 'No SSH private host key to give the nodes.', rationale: 'sshd refuses to start without a host key.' },
  'overlay/authorized-keys': { summary: "root's authorized_keys cannot be read.", rationale: 'It must be a regular file on the head.' },
  'overlay/head-file': { summary: 'A head file the overlays read cannot be used.', rationale: 'Site users and groups come from the head or from files in the spec folder; they must be readable regular files.' },
  'overlay/head-root': { summary: 'The head root cannot be opened.', rationale: 'HERD_HEAD_ROOT names the folder that stands for the head\'s / (default /).' },
  'overlay/account-clash': { summary: "A site user or group clashes with the image's accounts.", rationale: SEED + "the munge UID drifted between head and image. Warewulf's syncuser silently keeps the first entry of a name and never checks IDs; herd refuses a name with two IDs or an ID with two names, naming both entries." },
  'overlay/unknown-owner': { summary: 'An overlay file is owned by a user or group the image does not have.', rationale: "Owners resolve through the image's own accounts (after pins) plus the site's users." },
  'overlay/accounts-unknown': { summary: 'Owners cannot be resolved yet.', rationale: 'The image is not built, so its accounts are unknown; the overlay is pending.' },
  'overlay/no-address': { summary: 'A node without an address or prefix would get a network file.', rationale: SEED + 'a missing netmask made Warewulf write address= with no prefix and the node booted with no IP; herd never writes one.' },
  'overlay/template-error': { summary: 'A site template failed to render for a node.', rationale: 'Templates render in strict mode: an unknown variable is an error with the template file:line and the node, not an empty string.' },
  'overlay/template-changed': { summary: "A Warewulf template of wwinit or wwclient is not the one herd knows for the release.", rationale: "herd renders wwinit's and wwclient's four small templates itself and pins their sha256 per release, so an upstream change is an error, not a silent mis-render." },
  'overlay/template-construct': { summary: 'A Warewulf template uses a construct herd does not render.', rationale: 'The minimal renderer knows exactly what wwinit and wwclient use; anything else is refused with file, line and construct.' },
  'overlay/bad-path': { summary: 'An overlay file path outside the node root.', rationale: 'Paths are relative, normalised and stay inside the root.' },
  'overlay/path-conflict': { summary: 'An overlay file sits where another needs a directory.', rationale: 'One overlay put a file at a path another overlay uses as a folder.' },
  'overlay/template-syntax': { summary: 'A site template does not parse, or uses a helper, partial or decorator herd does not offer.', rationale: 'Templates are handlebars in strict mode with if/unless/each/with/lookup and join only; the error names the template file and line, once, not per node.' },
  'overlay/warewulf-template': { summary: 'A Warewulf .ww template in a site overlay.', rationale: 'herd renders .hbs templates; a .ww file would land on the node under its own name and the file it was meant to make would stay unchanged.' },
  'overlay/duplicate-path': { summary: 'Two files of one site overlay land on the same node path.', rationale: 'e.g. etc/motd and etc/motd.hbs: one would silently win.' },
  'overlay/owner-unmatched': { summary: 'An owners entry names a path the overlay does not have.', rationale: 'A misspelt path would otherwise leave the file owned by root without a word.' },
  'overlay/missing-file': { summary: 'A listed site overlay file has no content.', rationale: 'The folder changed while herd read it; run again.' },
};

/**
 * Rules reported while building images (herd build/plan/apply), about the image content rather than the spec text.
 * Typed by the builder's problem codes, so a new code without documentation does not compile. Covered by unit tests
 * of src/image/fix and src/image/verify and by the image integration test, not by validate fixtures.
 */
export const BUILD_RULES: Readonly<Record<import('../image/fix/report.ts').ImageProblemCode | 'image/pending' | 'image/build-failed' | 'image/secret-in-image', RuleDoc>> = {
  'image/secret-in-image': {
    summary: 'An image file that looks like a secret (munge key, ssh host key, owner-only file, PEM private key).',
    rationale: 'Every node gets the same image and the head keeps it as .img/.img.gz: a secret placed through image files: is shared by all nodes and sits in the provisioning tree. herd writes such an image 0600 and shows it only by hash; per-node secrets belong in the 0600 per-node system overlay.',
  },
  'image/pending': { summary: 'An image that cannot be built offline now.', rationale: 'plan and apply never contact registries: a docker:// source must be in the local cache (`herd pull`), and a local source must exist. Until then the image is reported pending and whatever was applied before is left untouched.' },
  'image/build-failed': { summary: 'An image source that could not be read.', rationale: 'A corrupt or tampered blob, an unsupported layer format or an unreadable file stops the build; nothing is written.' },
  'image/no-kernel': { summary: 'No kernel where Warewulf 4.6 looks for one.', rationale: SEED + 'on EL10 the kernel package puts vmlinuz in /lib/modules/<ver>/ only. herd looks where Warewulf 4.6 does (boot/vmlinuz-*, lib/modules/*/vmlinuz, ...); with none, nodes cannot boot.' },
  'image/kernel-version': { summary: 'The kernel version the spec names is not in the image.', rationale: 'kernel.version must match an installed kernel (uname -r, a prefix, or a path).' },
  'image/kernel-copy': { summary: 'The kernel could not be copied to /boot.', rationale: 'copy_to_boot places boot/vmlinuz-<ver> for tools that only look in /boot, which is what bit the seed lab.' },
  'image/pin-collision': RULES['image/pin-collision']!,
  'image/pin-shared-id': { summary: 'Two pins in one image share an ID.', rationale: 'Files of one account would belong to the other.' },
  'image/pin-missing-account': { summary: 'A pinned account does not exist in the image.', rationale: 'The package that creates it (e.g. munge) must be installed in the image for the pin to mean anything.' },
  'image/unknown-owner': { summary: 'An extra file is owned by a user the image does not have.', rationale: 'Owners are resolved through the image\'s own (pinned) /etc/passwd.' },
  'image/unknown-group': { summary: 'An extra file is owned by a group the image does not have.', rationale: 'Groups are resolved through the image\'s own (pinned) /etc/group.' },
  'image/file-conflict': { summary: 'An extra file collides with something in the image.', rationale: 'e.g. a file where the image has a directory with content.' },
  'image/bad-file': { summary: 'An extra file entry is not usable.', rationale: 'e.g. a path outside the image or a symlink without a target.' },
  'image/bad-exclude': { summary: 'An exclude pattern is not a valid pattern.', rationale: 'Patterns follow Go filepath.Match, as Warewulf\'s /etc/warewulf/excludes does.' },
  'image/missing-program': { summary: 'A required program is not in the built image.', rationale: SEED + 'without mount.nfs /home failed with "mount program didn\'t pass remote address"; herd checks the built archive, not the source.' },
  'image/missing-driver': { summary: 'The NIC driver of the nodes is neither built in nor a module in the image.', rationale: 'Without it the node has no network after boot.' },
  'image/pin-not-applied': { summary: 'A pinned ID does not hold in the built archive.', rationale: SEED + 'the munge UID was fixed in passwd but not on /var/log/munge, and munged would not start.' },
  'image/too-big-for-ram': { summary: 'The unpacked image does not fit in half of a node\'s RAM.', rationale: SEED + '"Initramfs unpacking failed: write error": the initramfs tmpfs is capped at half of RAM, and everything past the cap, overlays included, is silently dropped.' },
  'image/size-over-declared': { summary: 'The built image is larger than images.<name>.size says.', rationale: 'validate checks node memory against the declared size, so it must not understate the real one.' },
  'image/archive-bad-entry': { summary: 'The built archive has an entry herd cannot read back.', rationale: 'A packer bug: the archive is verified with an independent reader before it is used.' },
  'image/xattrs-dropped': {
    summary: 'Files of the image have extended attributes (file capabilities, ACLs, SELinux labels) that the built image loses.',
    rationale: 'herd reads xattrs from the layers, but a Warewulf image is an initramfs (cpio newc), which has no field for them, so nodes get the files without. File capabilities matter most: without security.capability, /usr/bin/ping cannot open a raw socket for non-root users. Restore them at boot (a systemd-tmpfiles `t` line, or a oneshot unit running setcap) or deliver the files through a runtime overlay.',
  },
};

/**
 * Rules reported by `herd import` about the site being imported (its nodes.conf, warewulf.conf, slurm.conf, gres.conf, exports)
 * and about what the imported spec changes. Covered by test/unit/import/rules.test.ts, one case per rule.
 */
export const IMPORT_RULES: Readonly<Record<string, RuleDoc>> = {
  'import/missing-file': { summary: 'A site file herd import needs is missing or cannot be read.', rationale: 'herd import reads etc/warewulf/nodes.conf (required) and, when present, warewulf.conf, slurm.conf with its Include parts, gres.conf, exports and hosts under --from, through one confined folder: a file outside it, a symlink leaving it, or a FIFO is never opened.' },
  'import/output-exists': { summary: 'The spec, inventory or an overlay folder herd import would write already exists.', rationale: 'An import never overwrites a spec someone may have edited unless told with --overwrite; nothing is written when it refuses.' },
  'import/unknown-key': { summary: 'A nodes.conf key Warewulf 4.6 does not read.', rationale: 'Warewulf reads nodes.conf with yaml.v3, which drops unknown keys without a word (a misspelt key, or ip6addr on 4.6.5, where it became ipaddr6). The import reports each one where it is written instead of carrying a value Warewulf never used.' },
  'import/changed-value': { summary: 'A value of the site that the imported spec drops or changes.', rationale: 'The import builds the files from the spec it wrote and reads them back the way Warewulf and slurmctld do; every key whose meaning differs from the site\'s (IPMI settings, a second NIC, a slurm.conf default herd states) is reported at the site\'s file:line, once per key with the number of nodes, so adopting herd is a reviewable change.' },
  'import/node-mismatch': { summary: 'nodes.conf and slurm.conf disagree about a node.', rationale: 'herd defines each node once for Warewulf and Slurm together: a node only in slurm.conf has no image or MAC, a node only in nodes.conf gets a NodeName line it did not have, and a NodeAddr that differs from the Warewulf address means one of them is wrong.' },
  'import/slurm-syntax': { summary: 'A slurm.conf or gres.conf line slurmctld would refuse.', rationale: 'A token without key=value or a partition defined twice stops slurmctld at start; the import reports the line instead of guessing what was meant.' },
  'import/inferred-value': { summary: 'A value the spec needs that no site file states.', rationale: 'The head\'s cluster NIC and, without SlurmctldHost, the head\'s name are not in nodes.conf, warewulf.conf or slurm.conf. The import writes a placeholder with an "inferred" comment and reports it, so it is set before the spec is applied.' },
};

/** Every rule herd can report, for `herd explain`. */
export const ALL_RULES: Readonly<Record<string, RuleDoc>> = { ...RULES, ...BUILD_RULES, ...OVERLAY_RULES, ...IMPORT_RULES };
