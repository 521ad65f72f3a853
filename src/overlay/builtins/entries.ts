// Small constructors shared by herd's built-in overlay generators (pure): file, directory and symlink entries, the
// generated-file header, and the enable symlinks systemd's `systemctl enable` would make.
import { generatedHeader } from '../../compile/compile-cluster.ts';
import type { ClusterModel } from '../../spec/model.ts';
import type { OverlayFile } from '../types.ts';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

const ROOT: Owner = { uid: 0, gid: 0 };

export function file(path: string, content: string | Uint8Array, mode = 0o644, owner: Owner = ROOT, hidden?: OverlayFile['hidden']): OverlayFile {
  return { path, type: 'file', mode, uid: owner.uid, gid: owner.gid, content, ...(hidden ? { hidden } : {}) };
}

export function directory(path: string, mode: number, owner: Owner = ROOT): OverlayFile {
  return { path, type: 'directory', mode, uid: owner.uid, gid: owner.gid };
}

export function symlink(path: string, target: string): OverlayFile {
  return { path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, target };
}

/** Where distributions install systemd's units; EL and Debian (merged /usr) both have them here. */
export const UNIT_DIR = '/usr/lib/systemd/system';

/** The link `systemctl enable` makes for a unit whose [Install] section says `WantedBy=<target>`. */
export function wantedBy(target: string, unit: string): OverlayFile {
  return symlink(`etc/systemd/system/${target}.wants/${unit}`, `${UNIT_DIR}/${unit}`);
}

/** The header of every text file herd generates: names the cluster and the spec file, never a directory or a date. */
export function header(model: ClusterModel): string {
  return generatedHeader(model.name, model.specFile);
}
