// How much RAM an unpacked image takes, what the nodes allow, and the problems when it does not fit (pure). One wording for
// the check of the built archive (verify-image.ts) and for the bound applied while a source is unpacked (unpack-budget.ts).
//
// The estimate: file data rounded up to 4 KiB pages (tmpfs charges whole pages; each hard-linked file once) plus
// ENTRY_OVERHEAD bytes per name (see verify-image.ts). The limit: half of the smallest node memory (the initramfs tmpfs is
// capped at half of RAM) and the declared images.<name>.size, whichever is less.
import { compressHostlist } from '../../spec/hostlist.ts';
import { formatBytes, problem, type ImageProblem, type ImageProblemCode } from '../fix/report.ts';

export const PAGE_SIZE = 4096;
export const ENTRY_OVERHEAD = 512;
const MIB = 1024 * 1024;

/** Bytes a file of `size` takes in a tmpfs. */
export const pagesOf = (size: number): number => Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;

export interface RamEstimate {
  readonly ramBytes: number;
  /** Sum of file sizes, each hard-linked file once. */
  readonly fileBytes: number;
  readonly entries: number;
}

export interface RamLimits {
  readonly nodes: readonly { readonly name: string; readonly memoryMiB?: number }[];
  readonly declaredSizeMiB?: number;
}

/** How an estimate is named in messages: a measured built archive, or a source still being unpacked. */
export interface RamWording {
  /** "the built image takes about 1.2 GiB of RAM unpacked" */
  readonly takes: string;
  /** What follows in the node message: " (… of files in 4 KiB pages, N entries)". */
  readonly detail: string;
}

export function builtWording(est: RamEstimate): RamWording {
  return { takes: `the built image takes about ${formatBytes(est.ramBytes)} of RAM unpacked`, detail: ` (${formatBytes(est.fileBytes)} of files in 4 KiB pages, ${est.entries} entries)` };
}

/** Problems when `est` does not fit the nodes (field `size`, so they point at the image's size setting). */
export function ramProblems(est: RamEstimate, limits: RamLimits, wording: RamWording): ImageProblem[] {
  const problems: ImageProblem[] = [];
  const tooSmall = new Map<number, string[]>();
  for (const n of limits.nodes) {
    if (n.memoryMiB === undefined || est.ramBytes <= (n.memoryMiB * MIB) / 2) continue;
    tooSmall.set(n.memoryMiB, [...(tooSmall.get(n.memoryMiB) ?? []), n.name]);
  }
  const needGiB = Math.ceil((2 * est.ramBytes) / (1024 * MIB));
  for (const [mem, names] of [...tooSmall].sort((a, b) => a[0] - b[0])) {
    const hosts = compressHostlist(names);
    problems.push(
      problem(
        'image/too-big-for-ram',
        `${wording.takes}${wording.detail}; ${hosts} ha${names.length === 1 ? 's' : 've'} ${formatBytes(mem * MIB)}, and the kernel unpacks the image into a tmpfs capped at half of RAM (${formatBytes((mem * MIB) / 2)})`,
        `give the nodes at least ${needGiB} GiB or shrink the image; otherwise the kernel prints Initramfs unpacking failed: write error and silently drops the overlays`,
        'size',
        hosts,
      ),
    );
  }
  if (limits.declaredSizeMiB !== undefined && est.ramBytes > limits.declaredSizeMiB * MIB) {
    problems.push(problem('image/size-over-declared', `${wording.takes}, more than its declared size ${formatBytes(limits.declaredSizeMiB * MIB)}`, `set size to at least ${Math.ceil(est.ramBytes / MIB)}MiB so the plan-time memory check uses the real size`, 'size'));
  }
  return problems;
}

/** Where herd stops when neither node memory nor an image size says more: no node boots an initramfs this big. */
export const DEFAULT_CEILING_BYTES = 64 * 1024 * MIB;

export interface UnpackLimit {
  /** The most the unpacked image may take. */
  readonly bytes: number;
  /** The problems for an estimate over `bytes`, taken at `where` before the source was fully read. */
  problems(est: RamEstimate, where: string): ImageProblem[];
}

/** The bound for unpacking a source: what the late check allows, or DEFAULT_CEILING_BYTES when nothing is declared. */
export function unpackLimit(limits: RamLimits): UnpackLimit {
  const halves = limits.nodes.flatMap((n) => (n.memoryMiB === undefined ? [] : [(n.memoryMiB * MIB) / 2]));
  const candidates = [...halves, ...(limits.declaredSizeMiB === undefined ? [] : [limits.declaredSizeMiB * MIB])];
  const wording = (est: RamEstimate, where: string): RamWording => ({
    takes: `the image takes at least ${formatBytes(est.ramBytes)} of RAM unpacked by ${where}, where herd stopped reading it`,
    detail: ` (${formatBytes(est.fileBytes)} of files in 4 KiB pages, ${est.entries} entries)`,
  });
  if (candidates.length === 0) {
    return {
      bytes: DEFAULT_CEILING_BYTES,
      problems: (est, where) => {
        const w = wording(est, where);
        const code: ImageProblemCode = 'image/too-big-for-ram';
        return [problem(code, `${w.takes}${w.detail}, more than the ${formatBytes(DEFAULT_CEILING_BYTES)} herd unpacks for an image whose nodes give no memory and which declares no size`, 'set the nodes\' memory (or the image\'s size) so herd can check the image against them', 'size')];
      },
    };
  }
  const bytes = Math.min(...candidates);
  return {
    bytes,
    problems: (est, where) => {
      const w = wording(est, where);
      const found = ramProblems(est, limits, w);
      // `est` is over `bytes`, the least of the limits, so at least one of them refuses it.
      return found.length > 0 ? found : [problem('image/too-big-for-ram', `${w.takes}${w.detail}, more than ${formatBytes(bytes)}`, 'shrink the image', 'size')];
    },
  };
}
