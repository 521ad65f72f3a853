// Warewulf-format twins of herd's overlays (pure): what makes `wwctl overlay build` on the head rebuild every node's
// __SYSTEM__ and __RUNTIME__ with exactly the files herd built, instead of failing (herd-boot and herd-slurm do not exist
// for Warewulf) or rendering Warewulf's own templates over herd's (hosts, NetworkManager...). Issue 14.
//
// herd writes each overlay it renders itself (every one but wwinit and wwclient, which herd renders from the head's own
// install and which equal Warewulf's) as a site overlay, `<overlays>/<name>`, shadowing Warewulf's distribution overlay of
// the same name the way `wwctl overlay edit` does:
//   rootfs/                 the directories of every node's files, and one `.ww` template per file
//   herd/nodes/<node>       the node's lines, `<key> <payload>`, for the templates whose output differs between nodes
//   herd/blobs/<sha256>     a content shared by several nodes (or large, or secret), after a `herd-blob` line and before
//                           one newline (Include trims one)
// A template prints its file's bytes for the node and nothing else: a content all of its nodes share comes from its blob
// (`Include`, which reads relative to /etc/warewulf); otherwise it finds the node's line (`regexFind` over `Include` of the
// node's file) and prints the blob it names (`@sha`) or the bytes it carries (`=base64`, `b64dec`), or `abort`s (the node
// has no such file), or `fail`s with herd's reason (`!why`). Every template calls `nobackup` (no `.wwbackup` copies), and
// fails when a blob or node file does not start with its `herd-blob`/`herd-node` line (Include gives "" for a missing one).
// Warewulf gives a template's output the template's own mode and owner, so a path whose mode or owner differs between
// nodes (a site file owned by slurm on two images with different slurm ids) has one template per variant; the later ones
// name their output with Warewulf's `{{ file "name" }}` marker. Folders have one mode and owner per overlay: a node whose
// folder differs (the munge key's, on images with different munge ids) is refused, below.
//
// What Warewulf 4.6.5 does to a template's output, and herd checks per content (overlay.go BuildOverlayIndir):
// - it splits the output into lines with a bufio.Scanner of the default 64 KiB limit and never checks its error, so a line
//   longer than that silently ends the file;
// - a line holding `{{ /* file "x" */ }}` or `{{ /* softlink "x" */ }}` is taken as a marker, not content.
// And how it merges a node's overlays into one tree, which herd's own composition does differently: a directory or file
// already made by an earlier overlay keeps that overlay's mode (MkdirAll and O_TRUNC do not chmod) while its owner is the
// last overlay's (CopyUIDGID); new ones get the mode minus the umask (0022 assumed, root's usual); a symlink over an existing
// path fails the build. herd simulates that merge for every node and stage, and where the result would differ from what
// herd built, the twin makes Warewulf's build of that node fail, with the reason, rather than build something else.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { compareParentsFirst, DIR_MTIME, fileBytes, mtimeOf, shaOf, type ComposedEntry, type OverlayPart } from './compose.ts';
import type { OverlayFile } from './types.ts';

/** The process umask Warewulf's overlay build runs with (root's usual). */
export const WAREWULF_UMASK = 0o022;
/** bufio.MaxScanTokenSize: a line (with its newline) longer than this ends Warewulf's template output there. */
const SCAN_LIMIT = 64 * 1024;
/** A node's own content up to this size is carried in its line (base64); larger or shared ones go to a blob. */
const INLINE_MAX = 4096;

/** One built stage of one node: the overlays in list order and what herd packed. */
export interface TwinStage {
  readonly node: string;
  readonly stage: 'system' | 'runtime';
  readonly parts: readonly OverlayPart[];
  readonly entries: readonly ComposedEntry[];
}

export interface TwinOptions {
  /** Warewulf's site overlay folder, relative to the root (`var/lib/warewulf/overlays`). */
  readonly overlayDir: string;
  /** Where Warewulf resolves a relative Include (`<sysconfdir>/warewulf`), relative to the root (`etc/warewulf`). */
  readonly includeBase: string;
  readonly umask?: number;
}

/** A node and stage whose overlay Warewulf could not rebuild as herd built it: the twin makes its build fail instead. */
export interface TwinRefusal {
  readonly node: string;
  readonly stage: 'system' | 'runtime';
  readonly reason: string;
}

export interface TwinResult {
  /** Per twinned overlay: the entries of its folder (relative to `<overlayDir>/<name>`), parents first. */
  readonly trees: ReadonlyMap<string, readonly ComposedEntry[]>;
  readonly refusals: readonly TwinRefusal[];
}

interface Variant {
  readonly type: 'file' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Each distinct file object (a shared built-in's is one object for many nodes) -> the nodes it is for. */
  readonly files: Map<OverlayFile, string[]>;
  /** How many nodes have this variant. */
  size: number;
}

interface DirAttr {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder('latin1');

/** Go's `\s` (RE2, ASCII only) and the two marker patterns of overlay.go, over bytes (latin1: one char per byte). */
const MARKER = /\{\{[\t\n\f\r ]*\/\*[\t\n\f\r ]*(file|softlink)[\t\n\f\r ]*["'][^\n]*["'][\t\n\f\r ]*\*\/[\t\n\f\r ]*\}\}/;
/** Verdicts by buffer (a shared content is one buffer for every node): '' when the bytes pass. */
const verdicts = new WeakMap<Uint8Array, string>();

/** Why Warewulf's template output would not carry these bytes unchanged, or undefined when it would. */
export function whyNotTemplatable(content: Uint8Array): string | undefined {
  let why = verdicts.get(content);
  if (why === undefined) {
    why = scan(content) ?? '';
    verdicts.set(content, why);
  }
  return why === '' ? undefined : why;
}

function scan(content: Uint8Array): string | undefined {
  // Nearly every file is short and has no '{' at all: one native search decides.
  const firstBrace = content.indexOf(0x7b);
  if (content.length <= SCAN_LIMIT && firstBrace < 0) return undefined;
  let start = 0;
  while (start < content.length) {
    const nl = content.indexOf(0x0a, start);
    const end = nl < 0 ? content.length : nl + 1;
    if (end - start > SCAN_LIMIT) return `a line longer than ${SCAN_LIMIT} bytes, where Warewulf's template output stops`;
    // Only a line holding `{` can hold a marker: most lines are skipped without decoding.
    const brace = firstBrace < 0 ? -1 : content.indexOf(0x7b, start);
    if (brace >= 0 && brace < end && MARKER.test(latin1.decode(content.subarray(start, end)))) return 'a line Warewulf would take for its own file or softlink marker';
    start = end;
  }
  return undefined;
}

const quote = (s: string): string => JSON.stringify(s); // Go template string literals read JSON's escapes

/** The first line of every blob and node file: a template that does not find it fails instead of printing nothing. */
const BLOB_MARK = 'herd-blob\n';
const NODE_MARK = 'herd-node\n';

/** Directory attributes, the implied parents of a file being 0755 root:root as herd's composition makes them. */
function dirsOf(files: readonly OverlayFile[], into: Map<string, Map<string, number>>, weight: number): void {
  const tally = (path: string, a: DirAttr): void => {
    let m = into.get(path);
    if (m === undefined) into.set(path, (m = new Map()));
    const k = `${a.mode}:${a.uid}:${a.gid}`;
    m.set(k, (m.get(k) ?? 0) + weight);
  };
  const explicit = new Set<string>();
  for (const f of files) if (f.type === 'directory') explicit.add(f.path);
  for (const f of files) {
    if (f.type === 'directory') tally(f.path, { mode: f.mode & 0o7777, uid: f.uid, gid: f.gid });
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!explicit.has(d)) {
        explicit.add(d);
        tally(d, { mode: 0o755, uid: 0, gid: 0 });
      }
    }
  }
}

function mostCommon(m: Map<string, number>): DirAttr {
  let best = '';
  let n = -1;
  for (const [k, c] of m) if (c > n || (c === n && k < best)) [best, n] = [k, c];
  const [mode, uid, gid] = best.split(':').map(Number) as [number, number, number];
  return { mode, uid, gid };
}

/** What the simulated Warewulf tree holds at a path. */
interface Sim {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  target?: string;
}

const modeText = (m: number): string => m.toString(8).padStart(4, '0');
const attrText = (s: { type: string; mode: number; uid: number; gid: number }): string => `${s.type} ${s.type === 'symlink' ? '' : `${modeText(s.mode)} `}${s.uid}:${s.gid}`;

/**
 * Warewulf's overlay build of one node's stage, given the twins' directories: the first difference from what herd built,
 * or undefined when the trees agree in every path, type, mode, owner, content and link target.
 */
function simulate(st: TwinStage, twinDirs: ReadonlyMap<string, ReadonlyMap<string, DirAttr>>, umask: number): string | undefined {
  const tree = new Map<string, Sim>();
  const mkdir = (path: string, a: DirAttr): string | undefined => {
    const ex = tree.get(path);
    if (ex === undefined) tree.set(path, { type: 'directory', mode: a.mode & 0o1777 & ~umask, uid: a.uid, gid: a.gid });
    else if (ex.type !== 'directory') return `/${path} is a ${ex.type} from an earlier overlay, and Warewulf cannot make it a directory`;
    else [ex.uid, ex.gid] = [a.uid, a.gid];
    return undefined;
  };
  for (const part of st.parts) {
    const dirs = twinDirs.get(part.name);
    if (dirs) for (const [path, a] of dirs) {
      const why = mkdir(path, a);
      if (why) return why;
    }
    for (const f of part.files) {
      if (f.type === 'directory') {
        if (dirs) continue; // a twin's directories are its union's, made above
        const why = mkdir(f.path, { mode: f.mode, uid: f.uid, gid: f.gid });
        if (why) return why;
        continue;
      }
      const ex = tree.get(f.path);
      if (f.type === 'symlink') {
        if (ex !== undefined) return `/${f.path} from overlay ${part.name} is a symlink over an earlier overlay's ${ex.type}, which Warewulf's build refuses`;
        tree.set(f.path, { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: f.target ?? '' });
        continue;
      }
      // fileBytes and shaOf are memoised: compose took both already for the node's archive.
      const sha = shaOf(fileBytes(f));
      if (ex === undefined) tree.set(f.path, { type: 'file', mode: f.mode & 0o777 & ~umask, uid: f.uid, gid: f.gid, sha256: sha });
      else if (ex.type !== 'file') return `/${f.path} from overlay ${part.name} is a file over an earlier overlay's ${ex.type}`;
      else if (!dirs) return `/${f.path} from overlay ${part.name} replaces an earlier overlay's file, and Warewulf's own template keeps a .wwbackup of it`;
      else Object.assign(ex, { uid: f.uid, gid: f.gid, sha256: sha });
    }
  }
  const seen = new Set<string>();
  for (const e of st.entries) {
    seen.add(e.path);
    const w = tree.get(e.path);
    const herd: Sim = { type: e.type, mode: e.type === 'symlink' ? 0o777 : e.mode, uid: e.uid, gid: e.gid };
    if (w === undefined) return `/${e.path} (${attrText(herd)}) would be missing`;
    if (w.type !== herd.type || (w.type !== 'symlink' && w.mode !== herd.mode) || w.uid !== herd.uid || w.gid !== herd.gid) return `/${e.path} would be ${attrText(w)} where herd's is ${attrText(herd)}`;
    if (w.type === 'file' && w.sha256 !== e.sha256) return `/${e.path} would hold an earlier overlay's content`;
    if (w.type === 'symlink' && w.target !== e.target) return `/${e.path} would point elsewhere`;
  }
  for (const [path, w] of tree) if (!seen.has(path)) return `/${path} (${attrText(w)}) would be extra`;
  return undefined;
}

/**
 * The twins of the overlays in `twinned` for the built stages in `stages` (every node using a twinned overlay must have
 * a built stage holding it: the caller keeps a twin pending otherwise), and the stages Warewulf would not reproduce.
 */
export function warewulfTwins(twinned: ReadonlySet<string>, stages: readonly TwinStage[], opts: TwinOptions): TwinResult {
  const umask = opts.umask ?? WAREWULF_UMASK;
  // Each twinned overlay's files per node (a node lists an overlay once; the first stage holding it counts).
  const byOverlay = new Map<string, Map<string, readonly OverlayFile[]>>();
  const stageOf = new Map<string, 'system' | 'runtime'>(); // `${overlay}\0${node}` -> the stage holding it
  for (const st of stages) {
    for (const p of st.parts) {
      if (!twinned.has(p.name)) continue;
      let m = byOverlay.get(p.name);
      if (m === undefined) byOverlay.set(p.name, (m = new Map()));
      if (!m.has(st.node)) {
        m.set(st.node, p.files);
        stageOf.set(`${p.name}\0${st.node}`, st.stage);
      }
    }
  }
  // Directories: the union over the overlay's nodes, each with its most common mode and owner.
  const twinDirs = new Map<string, Map<string, DirAttr>>();
  for (const [name, nodes] of byOverlay) {
    // Nodes sharing one rendered list (a built-in memoised per image) are tallied once, weighted.
    const lists = new Map<readonly OverlayFile[], number>();
    for (const files of nodes.values()) lists.set(files, (lists.get(files) ?? 0) + 1);
    const tally = new Map<string, Map<string, number>>();
    for (const [files, weight] of lists) dirsOf(files, tally, weight);
    const dirs = new Map<string, DirAttr>();
    for (const path of [...tally.keys()].sort(compareParentsFirst)) dirs.set(path, mostCommon(tally.get(path)!));
    twinDirs.set(name, dirs);
  }
  // Every stage, as Warewulf would build it from the twins.
  const refusals: TwinRefusal[] = [];
  const refusedStages = new Set<string>();
  const refuse = (node: string, stage: 'system' | 'runtime', reason: string): void => {
    if (refusedStages.has(`${node}\0${stage}`)) return;
    refusedStages.add(`${node}\0${stage}`);
    refusals.push({ node, stage, reason });
  };
  const refused = new Map<string, string>(); // `${node}\0${stage}` -> the words Warewulf's build fails with
  const refusedOverlays = new Map<string, Set<string>>(); // overlay -> nodes whose build must fail there
  for (const st of stages) {
    const why = simulate(st, twinDirs, umask);
    if (why === undefined) continue;
    refuse(st.node, st.stage, why);
    refused.set(`${st.node}\0${st.stage}`, `herd: wwctl overlay build cannot make node ${st.node}'s ${st.stage} overlay as herd built it: ${why}; run herd apply instead`);
    for (const p of st.parts) {
      if (!twinned.has(p.name)) continue;
      let s = refusedOverlays.get(p.name);
      if (s === undefined) refusedOverlays.set(p.name, (s = new Set()));
      s.add(st.node);
    }
  }

  const trees = new Map<string, ComposedEntry[]>();
  for (const [name, nodes] of byOverlay) {
    const top = posix.join(opts.overlayDir, name);
    const rel = posix.relative(opts.includeBase, top);
    // Every read is checked: a blob or node file Warewulf cannot read (a copied or half-removed overlay folder) fails the
    // build with herd's words instead of giving the node an empty file or none (Include returns "" for a missing file).
    const unreadable = (what: string): string => `{{ fail (print "herd: wwctl overlay build cannot read " ${what} " (herd apply writes it)") }}`;
    const nodeFile = `${quote(`/${top}/herd/nodes/`)} .Id`;
    const nodeRead = `{{ $n := Include (print ${quote(`${rel}/herd/nodes/`)} .Id) }}{{ if not (hasPrefix ${quote(NODE_MARK)} $n) }}${unreadable(nodeFile)}{{ end }}`;
    const blobRead = (sha: string): string => `{{ $b := Include (print ${quote(`${rel}/herd/blobs/`)} ${sha}) }}{{ if not (hasPrefix ${quote(BLOB_MARK)} $b) }}${unreadable(`${quote(`/${top}/herd/blobs/`)} ${sha}`)}{{ end }}{{ trimPrefix ${quote(BLOB_MARK)} $b }}`;
    const entries: ComposedEntry[] = [];
    const blobs = new Map<string, { content: Uint8Array; hidden?: OverlayFile['hidden'] }>();
    const lines = new Map<string, string[]>(); // node -> its lines
    const addLine = (node: string, line: string): void => {
      let l = lines.get(node);
      if (l === undefined) lines.set(node, (l = []));
      l.push(line);
    };
    const used = new Set<string>(['rootfs', 'herd']);
    const dir = (path: string, a: DirAttr): void => {
      entries.push({ path, type: 'directory', mode: a.mode, uid: a.uid, gid: a.gid, mtime: DIR_MTIME, origin: name });
    };
    dir('rootfs', { mode: 0o755, uid: 0, gid: 0 });
    for (const [path, a] of twinDirs.get(name)!) {
      dir(`rootfs/${path}`, a);
      used.add(`rootfs/${path}`);
    }
    const file = (path: string, content: Uint8Array, a: DirAttr, hidden?: OverlayFile['hidden']): void => {
      const sha = shaOf(content);
      entries.push({ path, type: 'file', mode: a.mode, uid: a.uid, gid: a.gid, mtime: mtimeOf(sha), content, sha256: sha, ...(hidden ? { hidden } : {}), origin: name });
    };
    // Variants: one per path, type, mode and owner, the most common first (it gets the plain `<path>.ww` name).
    const variants = new Map<string, Variant[]>();
    const groups = new Map<readonly OverlayFile[], string[]>();
    for (const [node, files] of nodes) {
      const g = groups.get(files);
      if (g) g.push(node);
      else groups.set(files, [node]);
    }
    for (const [files, of] of groups) {
      for (const f of files) {
        if (f.type === 'directory') continue;
        const mode = f.type === 'symlink' ? 0o777 : f.mode & 0o7777;
        let vs = variants.get(f.path);
        if (vs === undefined) variants.set(f.path, (vs = []));
        let v = vs.find((x) => x.type === f.type && x.mode === mode && x.uid === f.uid && x.gid === f.gid);
        if (v === undefined) vs.push((v = { type: f.type, mode, uid: f.uid, gid: f.gid, files: new Map(), size: 0 }));
        const had = v.files.get(f);
        v.files.set(f, had ? had.concat(of) : of);
        v.size += of.length;
      }
    }
    let keyCount = 0;
    for (const path of [...variants.keys()].sort(compareParentsFirst)) {
      const vs = variants.get(path)!.sort((a, b) => b.size - a.size);
      const base = posix.basename(path);
      vs.forEach((v, i) => {
        // The template's own name: `<path>.ww`, or (later variants, or a name taken) a sibling that names its output.
        let tpl = `rootfs/${path}.ww`;
        let marker = '';
        if (i > 0 || used.has(tpl)) {
          let k = i;
          do tpl = `rootfs/${posix.join(posix.dirname(path), `${base}.herd-variant-${++k}.ww`)}`;
          while (used.has(tpl));
          marker = `{{ file ${quote(base)} }}\n`;
        }
        used.add(tpl);
        // What each file prints: '@sha' (a blob), '=base64' (its own bytes), '!why' (Warewulf would change it).
        const count = new Map<string, number>();
        for (const [f, of] of v.files) {
          if (f.type !== 'file') continue;
          const sha = shaOf(fileBytes(f));
          count.set(sha, (count.get(sha) ?? 0) + of.length);
        }
        const payloads = new Map<OverlayFile, string>();
        for (const [f, of] of v.files) {
          let why: string | undefined;
          let p: string;
          if (f.type === 'symlink') {
            const t = f.target ?? '';
            why = t === '' || t.includes('\n') ? 'is a symlink whose target Warewulf cannot write' : undefined;
            p = why ? `!herd: /${path} ${why}; run herd apply instead` : `=${Buffer.from(t).toString('base64')}`;
          } else {
            const content = fileBytes(f);
            const sha = shaOf(content);
            const cannot = whyNotTemplatable(content);
            why = cannot && `holds ${cannot}`;
            if (why) p = `!herd: /${path} ${why}; run herd apply instead`;
            else if (count.get(sha) === 1 && content.length <= INLINE_MAX && !f.hidden) p = `=${Buffer.from(content.buffer, content.byteOffset, content.length).toString('base64')}`;
            else {
              blobs.set(sha, { content, ...(f.hidden ? { hidden: f.hidden } : {}) });
              p = `@${sha}`;
            }
          }
          if (why) for (const node of of) refuse(node, stageOf.get(`${name}\0${node}`)!, `/${path} ${why}`);
          payloads.set(f, p);
        }
        // A payload every node of the overlay shares is written into the template; others are looked up in the node's lines.
        const only = v.size === nodes.size ? new Set(payloads.values()) : undefined;
        let text: string;
        if (only?.size === 1) {
          const p = [...only][0]!;
          const arg = quote(p.slice(1));
          text = p.startsWith('!')
            ? `{{ fail ${arg} }}`
            : `{{ nobackup }}${marker}${v.type === 'symlink' ? `{{ softlink (b64dec ${arg}) }}` : p.startsWith('@') ? blobRead(arg) : `{{ b64dec ${arg} }}`}`;
        } else {
          const key = `k${++keyCount}`;
          for (const [f, p] of payloads) for (const node of v.files.get(f)!) addLine(node, `${key} ${p}`);
          const out =
            v.type === 'symlink'
              ? `{{ softlink (b64dec (trimPrefix "=" $v)) }}`
              : `{{ if hasPrefix "@" $v }}${blobRead('(trimPrefix "@" $v)')}{{ else }}{{ b64dec (trimPrefix "=" $v) }}{{ end }}`;
          text =
            `{{ nobackup }}${nodeRead}{{ $v := trimPrefix ${quote(`${key} `)} (regexFind ${quote(`(?m)^${key} .*$`)} $n) }}` +
            `{{ if not $v }}{{ abort }}{{ else if hasPrefix "!" $v }}{{ fail (trimPrefix "!" $v) }}{{ else }}${marker}${out}{{ end }}`;
        }
        file(tpl, encoder.encode(text), { mode: v.type === 'symlink' ? 0o644 : v.mode, uid: v.type === 'symlink' ? 0 : v.uid, gid: v.type === 'symlink' ? 0 : v.gid });
      });
    }
    // The nodes Warewulf must not build: a check that runs first (`.` sorts before letters) and fails with herd's reason.
    const refusedHere = refusedOverlays.get(name);
    if (refusedHere) {
      for (const node of refusedHere) addLine(node, `check !${refused.get(`${node}\0${stageOf.get(`${name}\0${node}`)}`)!}`);
      const check = `rootfs/.herd-check.ww`;
      file(check, encoder.encode(`${nodeRead}{{ $v := trimPrefix "check " (regexFind "(?m)^check .*$" $n) }}{{ if hasPrefix "!" $v }}{{ fail (trimPrefix "!" $v) }}{{ end }}{{ abort }}`), { mode: 0o644, uid: 0, gid: 0 });
    }
    dir('herd', { mode: 0o700, uid: 0, gid: 0 });
    file('herd/README', encoder.encode(README(name)), { mode: 0o600, uid: 0, gid: 0 });
    if (blobs.size > 0) {
      dir('herd/blobs', { mode: 0o700, uid: 0, gid: 0 });
      for (const sha of [...blobs.keys()].sort()) {
        const b = blobs.get(sha)!;
        const mark = encoder.encode(BLOB_MARK);
        const blob = new Uint8Array(mark.length + b.content.length + 1);
        blob.set(mark);
        blob.set(b.content, mark.length);
        blob[blob.length - 1] = 0x0a;
        file(`herd/blobs/${sha}`, blob, { mode: 0o600, uid: 0, gid: 0 }, b.hidden);
      }
    }
    // Every node of the overlay has its file once any template looks a line up (a node without lines still proves the read).
    if (lines.size > 0) {
      dir('herd/nodes', { mode: 0o700, uid: 0, gid: 0 });
      for (const node of [...nodes.keys()].sort()) file(`herd/nodes/${node}`, encoder.encode(`${NODE_MARK}${(lines.get(node) ?? []).map((l) => `${l}\n`).join('')}`), { mode: 0o600, uid: 0, gid: 0 });
    }
    // rootfs/ sorted parents first; herd/ (which sorts before it) was appended in that order already.
    const herdAt = entries.findIndex((e) => e.path === 'herd');
    const rootfs = entries.slice(0, herdAt).sort((a, b) => compareParentsFirst(a.path, b.path));
    trees.set(name, [...entries.slice(herdAt), ...rootfs]);
  }
  return { trees, refusals };
}

const README = (name: string): string => `Written by herd; do not edit (change the cluster spec and run herd apply).

rootfs/ holds overlay ${name} as Warewulf templates, so that \`wwctl overlay build\` makes every node's overlay with the
files herd built. Each template prints one file for the node: from herd/blobs/ (a content several nodes share, after a
herd-blob line and before one newline that Warewulf's Include removes) or from the node's line in herd/nodes/<node>. A
template that cannot read these files fails, and so does a node whose overlay Warewulf's build would change, with herd's
reason, instead of building other files.
`;

/** Bump when the twin's templates or layout change for the same input (cached twin hashes are then not reused). */
export const TWIN_VERSION = 'herd-twin-2';

/** Digests of rendered file lists, by list identity (a built-in shared by many nodes is one list, hashed once). */
const listDigests = new WeakMap<readonly OverlayFile[], string>();

function listDigest(files: readonly OverlayFile[]): string {
  let d = listDigests.get(files);
  if (d === undefined) {
    const h = createHash('sha256');
    for (const f of files) {
      const what = f.type === 'file' ? shaOf(fileBytes(f)) : f.type === 'symlink' ? `>${f.target ?? ''}` : '';
      h.update(`${f.path}\0${f.type}\0${f.mode}\0${f.uid}\0${f.gid}\0${what}\0${f.hidden ?? ''}\n`);
    }
    listDigests.set(files, (d = h.digest('hex')));
  }
  return d;
}

/**
 * A key over everything warewulfTwins reads: the options, the twinned overlays and every stage's parts in order (each part's
 * name and files; a stage's entries are composed from its parts). Equal keys give equal twins, so an unchanged cluster
 * skips making them (they are made again, byte for byte, when apply asks for their bytes).
 */
export function twinKey(twinned: ReadonlySet<string>, stages: readonly TwinStage[], opts: TwinOptions): string {
  const h = createHash('sha256').update(`${TWIN_VERSION}\0${opts.overlayDir}\0${opts.includeBase}\0${opts.umask ?? WAREWULF_UMASK}\0${[...twinned].sort().join(',')}\n`);
  for (const st of stages) {
    let line = `${st.node}\0${st.stage}`;
    for (const p of st.parts) line += `\0${p.name}\0${p.builtin ? 1 : 0}\0${listDigest(p.files)}`;
    h.update(`${line}\n`);
  }
  return h.digest('hex');
}
