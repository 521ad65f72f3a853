// wwinit and wwclient from the head's Warewulf install: what boots a node the Warewulf way (/init, run-init, init.d, the
// wwclient unit and binary). readInstallOverlay (I/O, through ConfinedDir) reads `<dir>/<name>/rootfs` as installed: bytes,
// modes, owners, symlinks kept as links. renderInstallOverlay (pure) copies it and renders its `.ww` templates with the
// minimal renderer, but only templates whose sha256 is the one the spec's Warewulf release ships: a changed template is an
// error, never a silent mis-render. Checked file by file against real Warewulf 4.6.5 (test/integration/warewulf-oracle-overlays).
import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import { posix } from 'node:path';
import { fileKind, isPathBlocked, readBounded, relParts, type ConfinedDir } from '../fs/confined-dir.ts';
import type { IpmiModel, WarewulfVersion } from '../spec/model.ts';
import { wwBool, wwBoolDefaultTrue } from '../spec/warewulf-facts.ts';
import { goDefault, goIndex, goString, renderGoTemplate, type GoFunc, type GoValue } from './go-template-mini.ts';
import type { BuiltinResult, OverlayFile, OverlayProblem } from './types.ts';

/** One entry of an installed overlay, as read (before rendering). */
export interface InstallEntry {
  /** Relative to the overlay's rootfs, '/'-separated. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly content?: Uint8Array;
  readonly target?: string;
}

export interface InstallOverlay {
  readonly name: 'wwinit' | 'wwclient';
  /** In Warewulf's walk order: parents before children, names in byte order. */
  readonly entries: readonly InstallEntry[];
  /** The folder read, relative to the install dir (`wwinit/rootfs`, or `wwinit` for an overlay without rootfs/), for messages. */
  readonly root?: string;
}

/** What the templates read: herd's nodes.conf sets Root and Init for every node, and IPMI where the spec gives it. */
export interface InstallTemplateData {
  readonly imageName: string;
  readonly id: string;
  readonly root: string;
  readonly init: string;
  /** The node's BMC settings. */
  readonly ipmi?: IpmiModel;
  /** The BMC password read on the head (ipmi.password_file): the rendered file holding it is hidden and root-only. */
  readonly ipmiPassword?: string;
  /** herd's compiled warewulf.conf, the text `Include "warewulf.conf"` reads on the head. */
  readonly warewulfConf: string;
}

export const MAX_INSTALL_FILE = 64 * 1024 * 1024;
export const MAX_INSTALL_ENTRIES = 4096;

// sha256 of each `.ww` template a release ships, keyed by its path in Warewulf's source tree (overlays/...). Taken from
// the git blobs at tags v4.6.0..v4.6.5 of github.com/warewulf/warewulf (commits a98ec09b, 0c85f813, 0cb93543, 70eb60bd,
// 4b9e2f02, c7fc14c3); the 4.6.5 ones are also the files of the release tarball warewulf-4.6.5.tar.gz. Before 4.6.5,
// 50-ipmi was a plain script (no template); 4.6.0's config.ww has no IPMI VLAN line and its 80-wwclient.ww does not read
// /etc/default/wwclient.
const WW_CONF = 'wwinit/rootfs/etc/warewulf/warewulf.conf.ww';
const CONFIG = 'wwinit/rootfs/warewulf/config.ww';
const IPMI = 'wwinit/rootfs/warewulf/init.d/50-ipmi.ww';
const WWCLIENT = 'wwclient/rootfs/warewulf/init.d/80-wwclient.ww';
const PINS_461: Readonly<Record<string, string>> = {
  [WW_CONF]: '6684e3f14341873d1f21191febec5bb2bdce9d1e7371ba4aa37a9019ccc079e4',
  [CONFIG]: '2d930136adb0e4214116bd07efad9662d5ecdf510808a6459680f714ea5e7947',
  [WWCLIENT]: '2eca3782ba2256b9a52837d632b94e94fe088ab752c157952060dce37942a7a4',
};
export const TEMPLATE_PINS: Readonly<Partial<Record<WarewulfVersion, Readonly<Record<string, string>>>>> = {
  '4.6.0': {
    [WW_CONF]: '6684e3f14341873d1f21191febec5bb2bdce9d1e7371ba4aa37a9019ccc079e4',
    [CONFIG]: 'a90a0eac2891c2a1f5e71c87582ba6eb8c14bfa8c1776f693c6663afd6cb54fa',
    [WWCLIENT]: '591749911e155eb8e1421fa252d4ae67be9c2592ecf7f9ae8bc2c1b9b7f9d17e',
  },
  '4.6.1': PINS_461,
  '4.6.2': PINS_461,
  '4.6.3': PINS_461,
  '4.6.4': PINS_461,
  '4.6.5': { ...PINS_461, [IPMI]: '38ec0e4ce673588ccff97e6ce26d064c15017b620a6116e4f7ef05b1dbc7686c' },
};

/** Warewulf's compiled-in WWCLIENTDIR (RPM and make install alike). */
const WWCLIENTDIR = '/warewulf';

/** The parts of Warewulf's TemplateStruct these templates read, with the values herd's nodes have. */
function templateData(d: InstallTemplateData): GoValue {
  const nilIP: GoValue = { kind: 'ip', value: null };
  const empty = goString('');
  // wwtype.WWbool: a string with a Bool() method.
  const wwbool = (s: string): GoValue => ({ kind: 'string', type: 'wwtype.WWbool', value: s, methods: { Bool: () => ({ kind: 'bool', value: wwBool(s) }), BoolDefaultTrue: () => ({ kind: 'bool', value: wwBoolDefaultTrue(s) }) } });
  // net.IP fields print as Go's String() of the parsed address: a dotted quad for IPv4, "<nil>" when unset.
  const ip = (v: string | undefined): GoValue => (v === undefined ? nilIP : { kind: 'ip', value: v });
  const str = (v: string | undefined): GoValue => (v === undefined ? empty : goString(v));
  const b = d.ipmi;
  const ipmi: GoValue = {
    kind: 'struct',
    type: '*node.IpmiConf',
    fields: {
      UserName: str(b?.username),
      Password: str(d.ipmiPassword),
      Ipaddr: ip(b?.address),
      Gateway: ip(b?.gateway),
      Netmask: ip(b?.netmask),
      Port: str(b?.port),
      Interface: str(b?.interface),
      EscapeChar: str(b?.escapechar),
      Write: wwbool(b?.write === undefined ? '' : String(b.write)),
      Template: str(b?.template),
      Tags: { kind: 'map', type: 'map[string]string', entries: new Map(Object.entries(b?.tags ?? {})) },
    },
  };
  return {
    kind: 'struct',
    type: 'overlay.TemplateStruct',
    fields: { Id: goString(d.id), ImageName: goString(d.imageName), Root: goString(d.root), Init: goString(d.init), Ipmi: ipmi, Paths: { kind: 'struct', type: 'config.BuildConfig', fields: { WWClientdir: goString(WWCLIENTDIR) } } },
  };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
// Warewulf 4.6 post-processes rendered lines holding these markers (splitting files, making links) [overlay.go regFile/regLink].
const MARKER = /\{\{[\t\n\f\r ]*\/\*[\t\n\f\r ]*(file|softlink)[\t\n\f\r ]*["'][^\n]*["'][\t\n\f\r ]*\*\/[\t\n\f\r ]*\}\}/;
// bufio.Scanner's default token limit: Warewulf 4.6 silently truncates a rendered file at a longer line.
const MAX_LINE = 64 * 1024;

/**
 * The installed overlay as node files: plain files, directories and symlinks as installed, each pinned `.ww` template
 * rendered for `data` (output path without `.ww`, mode and owner of the template). `displayDir` is the install dir as
 * shown in messages (`/usr/share/warewulf/overlays`).
 */
/** A template's hash and text, by entry: the same entries are rendered for every node of a cluster. */
const templates = new WeakMap<InstallEntry, { readonly sha256: string; readonly text: string }>();
function templateOf(e: InstallEntry, content: Uint8Array): { readonly sha256: string; readonly text: string } {
  let t = templates.get(e);
  if (t === undefined) {
    t = { sha256: sha256(content), text: Buffer.from(content).toString('utf8') };
    templates.set(e, t);
  }
  return t;
}

export function renderInstallOverlay(o: InstallOverlay, version: WarewulfVersion, data: InstallTemplateData, displayDir: string): BuiltinResult {
  const pins = TEMPLATE_PINS[version];
  const top = o.root ?? `${o.name}/rootfs`;
  const shown = (p: string): string => posix.join(displayDir, top, p);
  if (pins === undefined) {
    return { problems: [{ code: 'overlay/template-changed', message: `herd does not know Warewulf ${version}'s templates`, hint: 'set warewulf.version to a release herd knows (4.6.0 to 4.6.5)' }] };
  }
  const problems: OverlayProblem[] = [];
  const changed = (message: string): void => {
    problems.push({ code: 'overlay/template-changed', message, hint: `install Warewulf ${version}'s own ${o.name} overlay on the head, or set warewulf.version to the release installed there; herd renders only the templates it knows` });
  };
  const prefix = `${o.name}/rootfs/`;
  const expected = new Map(Object.entries(pins).filter(([k]) => k.startsWith(prefix)).map(([k, h]) => [k.slice(prefix.length), h]));
  const funcs: Record<string, GoFunc> = {
    default: goDefault,
    index: goIndex,
    Include: (args) => {
      const [p] = args;
      if (args.length !== 1 || p?.kind !== 'string') return { error: 'Include takes one file name' };
      if (p.value !== 'warewulf.conf') return { error: `herd supplies only warewulf.conf to Include, not ${p.value}` };
      return goString(data.warewulfConf.endsWith('\n') ? data.warewulfConf.slice(0, -1) : data.warewulfConf);
    },
  };
  const dot = templateData(data);
  const files: OverlayFile[] = [];
  const byPath = new Map<string, string>();
  const place = (path: string, from: string): boolean => {
    const other = byPath.get(path);
    if (other !== undefined) {
      changed(`${shown(from)} and ${shown(other)} both make /${path}; Warewulf ${version} ships no such pair`);
      return false;
    }
    byPath.set(path, from);
    return true;
  };
  for (const e of o.entries) {
    const base = { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid };
    // Warewulf's order of tests [overlay.go BuildOverlayIndir]: a directory, then any `.ww` (links included), then a link.
    if (e.type === 'directory') {
      if (place(e.path, e.path)) files.push({ path: e.path, type: 'directory', ...base });
      continue;
    }
    if (e.path.endsWith('.ww')) {
      const want = expected.get(e.path);
      expected.delete(e.path);
      if (want === undefined) {
        changed(`${shown(e.path)} is not a template Warewulf ${version} ships in ${o.name}`);
        continue;
      }
      if (e.type !== 'file' || e.content === undefined) {
        changed(`${shown(e.path)} is a ${e.type}, not the template Warewulf ${version} ships`);
        continue;
      }
      const t = templateOf(e, e.content);
      if (t.sha256 !== want) {
        changed(`${shown(e.path)} is not the template Warewulf ${version} ships (sha256 ${t.sha256}, expected ${want})`);
        continue;
      }
      const out = e.path.slice(0, -'.ww'.length);
      const r = renderGoTemplate(t.text, dot, funcs);
      if (!r.ok) {
        problems.push({ code: 'overlay/template-construct', message: `${shown(e.path)}:${r.error.line}: ${r.error.construct}: ${r.error.message}`, hint: "herd's Warewulf renderer handles only the constructs of the pinned wwinit/wwclient templates" });
        continue;
      }
      // Only a text with a comment opener can hold a marker, and only one of 64 KiB (in UTF-8) can hold so long a line:
      // most renders (every node's, for each template) skip splitting into lines.
      const lines = r.text.includes('/*') || Buffer.byteLength(r.text) >= MAX_LINE ? r.text.split(/(?<=\n)/) : [];
      const marker = lines.findIndex((l) => MARKER.test(l));
      if (marker >= 0) {
        problems.push({ code: 'overlay/template-construct', message: `${shown(e.path)}: rendered line ${marker + 1} holds a Warewulf file/softlink marker, which Warewulf ${version} would turn into other files`, hint: 'remove the marker text from the included file (warewulf.conf)' });
        continue;
      }
      const long = lines.findIndex((l) => Buffer.byteLength(l) >= MAX_LINE);
      if (long >= 0) {
        problems.push({ code: 'overlay/template-construct', message: `${shown(e.path)}: rendered line ${long + 1} is 64 KiB or longer; Warewulf ${version} would cut the file there`, hint: 'shorten that line of the included file' });
        continue;
      }
      // The config holding a BMC password is a secret: plans show its hash only (Warewulf installs the template 0600, so
      // it is root's alone on the node already).
      const secret = data.ipmiPassword !== undefined && data.ipmiPassword !== '' && r.text.includes(data.ipmiPassword) && /(^|\/)warewulf\/config$/.test(out);
      if (place(out, e.path)) files.push({ path: out, type: 'file', ...base, ...(secret ? { hidden: 'secret' as const } : {}), content: r.text });
      continue;
    }
    if (!place(e.path, e.path)) continue;
    if (e.type === 'symlink') files.push({ path: e.path, type: 'symlink', ...base, target: e.target ?? '' });
    else files.push({ path: e.path, type: 'file', ...base, content: e.content ?? new Uint8Array() });
  }
  for (const p of expected.keys()) changed(`Warewulf ${version} ships ${posix.join(displayDir, top, p)}, but the install has none`);
  return problems.length > 0 ? { problems } : { files };
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Read the installed overlay `name` from `dir` (an absolute head path, `/usr/share/warewulf/overlays`) under `root` (the
 * head root). Its `rootfs/` is read, or the overlay's own folder when it has none, as Warewulf does. Symlinks are never
 * followed, FIFOs and devices never opened. `missing` says why there is nothing usable (no install, unreadable, too big).
 */
export function readInstallOverlay(root: ConfinedDir, dir: string, name: 'wwinit' | 'wwclient'): InstallOverlay | { missing: string } {
  const dirParts = relParts(dir.replace(/^\/+/, ''));
  if (dirParts === undefined) return { missing: `the Warewulf overlay folder ${dir} climbs out of the head root` };
  const top = [...dirParts, name].join('/');
  try {
    if (!root.isDirectory(top)) return { missing: `no Warewulf install at ${root.hostPath(top)} on this machine` };
    const rootfs = root.isDirectory(`${top}/rootfs`) ? `${top}/rootfs` : top;
    const entries: InstallEntry[] = [];
    const walk = (rel: string, prefix: string): string | undefined => {
      const names = (root.readdir(rel) ?? []).map((d) => d.name).sort(byteOrder);
      for (const n of names) {
        if (entries.length >= MAX_INSTALL_ENTRIES) return `${root.hostPath(rootfs)} has more than ${MAX_INSTALL_ENTRIES} entries`;
        const childRel = `${rel}/${n}`;
        const path = prefix === '' ? n : `${prefix}/${n}`;
        const st = root.lstat(childRel);
        if (st === null) return `${root.hostPath(childRel)} vanished while being read`;
        const own = { path, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) };
        if (st.isDirectory()) {
          // The walk below reopens it by name: make sure that is still this directory, not a symlink swapped in.
          const again = root.statDir(childRel);
          if (again === null || again.dev !== st.dev || again.ino !== st.ino) return `${root.hostPath(childRel)} changed while being read`;
          entries.push({ ...own, type: 'directory' });
          const why = walk(childRel, path);
          if (why !== undefined) return why;
        } else if (st.isSymbolicLink()) {
          entries.push({ ...own, type: 'symlink', target: root.readlink(childRel) });
        } else if (st.isFile()) {
          const f = root.openRead(childRel);
          if (f === undefined) return `${root.hostPath(childRel)} vanished while being read`;
          try {
            const content = readBounded(f.fd, f.stat.size, MAX_INSTALL_FILE);
            if (content === undefined) return `${root.hostPath(childRel)} is larger than ${MAX_INSTALL_FILE / 1024 / 1024} MiB`;
            entries.push({ path, type: 'file', mode: Number(f.stat.mode) & 0o7777, uid: Number(f.stat.uid), gid: Number(f.stat.gid), content: new Uint8Array(content) });
          } finally {
            closeSync(f.fd);
          }
        } else {
          return `${root.hostPath(childRel)} is ${fileKind(st)}; herd copies only files, directories and symlinks from the Warewulf install`;
        }
      }
      return undefined;
    };
    const why = walk(rootfs, '');
    if (why !== undefined) return { missing: why };
    return { name, entries, root: rootfs.slice(dirParts.join('/').length).replace(/^\//, '') };
  } catch (e) {
    if (isPathBlocked(e) || errno(e) !== undefined) return { missing: `cannot read the Warewulf install at ${root.hostPath(top)}: ${(e as Error).message}` };
    throw e;
  } finally {
    root.flush();
  }
}
