// The image fix and verification steps as the builder runs them (pure over the tree, plus reading a built archive back).
// Order matters: pins first (extra files are owned by names resolved through the pinned accounts), then extra files,
// then the kernel is found (before excludes, which often drop /boot/ from the image while warewulfd still serves its
// kernel), then excludes, then the /boot copy of the kernel when the spec asks for it.
import { createReadStream } from 'node:fs';
import type { ImageModel } from '../../spec/model.ts';
import { walkTree, type FsTree, type ContentRef } from '../tree/fs-tree.ts';
import { applyPins } from '../fix/pins.ts';
import { applyExtraFiles, describeExtraFiles } from '../fix/extra-files.ts';
import { applyExcludes, describeExcludes } from '../fix/excludes.ts';
import { describeKernel, findKernels, placeKernelInBoot, selectKernel } from '../fix/kernel.ts';
import { describePins } from '../fix/pins.ts';
import { listSome, problem, type ImageProblem } from '../fix/report.ts';
import { cpioIndexFromJson, cpioIndexToJson, readCpioIndex, type CpioIndexJson } from '../verify/read-cpio.ts';
import { verifyImageArchive, type VerifyRequest } from '../verify/verify-image.ts';

export type { ImageProblem } from '../fix/report.ts';
export type VerifyContext = VerifyRequest;
export type ArchiveIndexJson = CpioIndexJson;

export interface FixOutcome {
  readonly kernel?: { readonly version: string; readonly path: string; readonly content: ContentRef };
  readonly report: string[];
  readonly problems: ImageProblem[];
}

export interface FixOptions {
  /** SOURCE_DATE_EPOCH: the mtime of the files and directories herd adds; without it they get 0. */
  readonly sourceDateEpoch?: number;
}

export async function applyImageFixes(tree: FsTree, im: ImageModel, options: FixOptions = {}): Promise<FixOutcome> {
  const report: string[] = [];
  const problems: ImageProblem[] = [];
  const pins = await applyPins(tree, { users: im.pins.users, groups: im.pins.groups });
  report.push(...describePins(pins.report));
  problems.push(...pins.problems);
  if (im.files.length > 0) {
    const files = await applyExtraFiles(
      tree,
      im.files.map((f) => ({ path: f.path, type: f.type, ...(f.content !== undefined ? { content: f.content } : {}), ...(f.target !== undefined ? { target: f.target } : {}), mode: f.mode, owner: f.owner, group: f.group })),
      options.sourceDateEpoch === undefined ? {} : { mtime: options.sourceDateEpoch },
    );
    report.push(...describeExtraFiles(files.report));
    problems.push(...files.problems);
  }
  const selection = selectKernel(findKernels(tree), im.kernel.version);
  problems.push(...selection.problems);
  const excludes = await applyExcludes(tree, im.exclude);
  report.push(...describeExcludes(excludes.report));
  problems.push(...excludes.problems);
  const k = selection.report.kernel;
  let placed;
  if (k && im.kernel.copyToBoot) {
    const p = placeKernelInBoot(tree, k);
    placed = p.report;
    problems.push(...p.problems);
  }
  report.push(...describeKernel(selection.report, placed));
  const content: ContentRef | undefined = k?.inode.content;
  return {
    ...(k && content ? { kernel: { version: k.version, path: k.path, content } } : {}),
    report,
    problems,
  };
}

/**
 * The entries whose extended attributes the image loses: cpio newc has no field for them, so file capabilities
 * (security.capability, which lets ping open raw sockets without setuid), ACLs and SELinux labels read from the layers
 * are not in the initramfs. A warning, not a refusal: most images boot fine without them. Run on the tree as packed.
 */
export function droppedXattrs(tree: FsTree): ImageProblem | undefined {
  const paths: string[] = [];
  for (const e of walkTree(tree)) {
    const names = Object.keys(e.inode.xattrs);
    if (names.length > 0) paths.push(`/${e.path} (${names.sort().join(', ')})`);
  }
  if (paths.length === 0) return undefined;
  return problem(
    'image/xattrs-dropped',
    `the extended attributes of ${paths.length} ${paths.length === 1 ? 'file' : 'files'} are dropped, because the initramfs (cpio newc) cannot carry them: ${listSome(paths, 10)}`,
    'file capabilities such as security.capability on /usr/bin/ping are lost (ping fails for non-root users); restore them at boot with a systemd-tmpfiles `t` line or a oneshot systemd unit running setcap (e.g. `setcap cap_net_raw+ep /usr/bin/ping`), or deliver the file through a runtime overlay',
    'source',
  );
}

/** Read the built archive back (an independent reader of what was written) and keep what verification needs. */
export async function readArchiveIndex(imgPath: string): Promise<ArchiveIndexJson> {
  return cpioIndexToJson(await readCpioIndex(createReadStream(imgPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>));
}

/**
 * Verify the archive as built. The kernel check is left out: herd found the kernel before excludes and ships it as its
 * own artifact in the image's chroot, where warewulfd serves it from (images often exclude /boot/).
 */
export function checkArchiveIndex(index: ArchiveIndexJson, ctx: VerifyContext): ImageProblem[] {
  return verifyImageArchive(cpioIndexFromJson(index), ctx).problems.filter((p) => p.code !== 'image/no-kernel');
}
