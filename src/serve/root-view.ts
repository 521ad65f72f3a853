// The root as `herd serve` reads it (I/O: file system, read-only): every lookup goes through ConfinedDir, never by host path.
import type { ConfinedDir } from '../fs/confined-dir.ts';
import { isPathBlocked } from '../fs/confined-dir.ts';
import type { RootfsView } from './find-kernel.ts';
import type { RootView } from './provision.ts';

/**
 * A RootView over a confined root. A symlink at a served file is refused rather than followed (herd never writes one there);
 * a symlinked directory in an image's rootfs is followed only while it stays inside the root, as ConfinedDir does.
 */
export function confinedRootView(root: ConfinedDir): RootView {
  const fileState = (rel: string): 'file' | 'missing' | 'blocked' => {
    try {
      const st = root.lstat(rel);
      if (st === null) return 'missing';
      if (st.isSymbolicLink()) return 'blocked';
      return st.isFile() ? 'file' : 'missing';
    } catch (e) {
      if (isPathBlocked(e)) return 'blocked';
      throw e;
    }
  };
  return {
    fileState,
    rootfs(base: string): RootfsView {
      const at = (rel: string) => (rel === '' ? base : `${base}/${rel}`);
      return {
        list(rel) {
          try {
            return root.readdir(at(rel))?.map((d) => d.name);
          } catch (e) {
            if (isPathBlocked(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
            throw e;
          }
        },
        isFile: (rel) => fileState(at(rel)) === 'file',
      };
    },
  };
}
