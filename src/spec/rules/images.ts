// Image rules (pure): reproducible sources, UID/GID pins, required programs and the RAM an in-memory root needs.
import { diagnosticAt, relatedAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { formatMiB } from '../units.ts';
import type { RuleCheck } from './rule.ts';

/** A floating tag makes two builds of the same spec differ. */
export const checkPinnedSources: RuleCheck = ({ model }) =>
  Object.values(model.images)
    .filter((im) => im.sourceKind === 'docker' && !/@sha256:[0-9a-f]{64}$/.test(im.sourceRef))
    .map((im) => diagnosticAt(im.at.source, 'image/unpinned-source', 'warning', `image ${im.name} source ${im.source} is not pinned by digest`, 'append @sha256:<digest> (skopeo inspect docker://... prints it) so every build gets the same image'));

/** Two names pinned to one ID would make files of one account belong to the other. */
export const checkPinCollisions: RuleCheck = ({ model, index }) => {
  const out: Diagnostic[] = [];
  for (const im of Object.values(model.images)) {
    for (const [table, ids] of [['uid', im.pins.users], ['gid', im.pins.groups]] as const) {
      const byId = new Map<number, string>();
      for (const [name, id] of Object.entries(ids)) {
        const prev = byId.get(id);
        if (prev !== undefined) {
          out.push(diagnosticAt(index.at(['images', im.name, 'pins', name]), 'image/pin-collision', 'error', `${name} and ${prev} are both pinned to ${table} ${id} in image ${im.name}`, 'give each account its own ID (use the head node\'s: `id -u NAME`)', [relatedAt(index.at(['images', im.name, 'pins', prev]), `${prev} pinned here`)]));
        } else byId.set(id, name);
      }
    }
  }
  return out;
};

/** NFS mounts need mount.nfs in the image: without it the mount fails with "NFS: mount program didn't pass remote address". */
export const checkNfsClient: RuleCheck = ({ model }) => {
  if (model.nfs.length === 0) return [];
  return Object.values(model.images)
    .filter((im) => im.nodes.length > 0 && !im.requires.some((r) => r === 'mount.nfs' || r.endsWith('/mount.nfs')))
    .map((im) => diagnosticAt(im.at.requires, 'image/missing-nfs-client', 'error', `the cluster mounts ${model.nfs.map((m) => m.mountPoint).join(', ')} over NFS but image ${im.name} does not require mount.nfs`, `add mount.nfs to images.${im.name}.requires and install nfs-utils (EL) or nfs-common (Debian) in its Containerfile`));
};

/** Slurm nodes need slurmd and munged in their image. */
export const checkSlurmPrograms: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  for (const im of Object.values(model.images)) {
    const inPartition = model.nodes.some((n) => n.image === im.name && n.partitions.length > 0);
    if (!inPartition) continue;
    const missing = ['slurmd', 'munged'].filter((p) => !im.requires.includes(p));
    if (missing.length > 0) out.push(diagnosticAt(im.at.requires, 'image/missing-slurm-programs', 'warning', `image ${im.name} boots Slurm nodes but does not require ${missing.join(' and ')}`, `add ${missing.join(', ')} to images.${im.name}.requires so the build verifies they are in the image`));
  }
  return out;
};

/** The initramfs root is a tmpfs capped at half of RAM; a bigger image stops unpacking and silently drops the overlays. */
export const checkMemoryForImage: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  const reported = new Set<string>();
  for (const n of model.nodes) {
    const im = model.images[n.image];
    if (!im?.sizeMiB || n.memoryMiB === undefined) continue;
    const need = 2 * im.sizeMiB;
    if (n.memoryMiB >= need) continue;
    const key = `${n.entry}|${im.name}`;
    if (reported.has(key)) continue;
    reported.add(key);
    out.push(diagnosticAt(n.at.memory ?? n.at.name, 'node/memory-too-small', 'error', `node ${n.name} has ${formatMiB(n.memoryMiB)} but image ${im.name} unpacks to ${formatMiB(im.sizeMiB)}; the in-RAM root may use only half of memory`, `give the node at least ${formatMiB(need)} (plus room for jobs) or shrink the image; otherwise the kernel prints "Initramfs unpacking failed: write error"`, im.at.size ? [relatedAt(im.at.size, `image ${im.name} size`)] : []));
  }
  return out;
};
