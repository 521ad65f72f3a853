// Site overlays (pure): a folder beside the spec, laid out as on the node. Plain files are copied with their mode,
// symlinks stay symlinks, and `name.hbs` files are Handlebars templates rendered per node into `name`, from the node
// record (node-record.ts, docs/overlay-templates.md). Templates compile once per overlay, so a syntax error is reported
// once, not once per node; they render in strict mode, so a variable the record lacks is an error naming the template
// line and the node instead of an empty string on 10,000 nodes.
import { posix } from 'node:path';
import type Handlebars from 'handlebars';
import type { SourceRef } from '../diagnostics/diagnostic.ts';
import type { OverlayModel } from '../spec/model.ts';
import { didYouMean } from '../spec/did-you-mean.ts';
import { validOverlayPath } from './compose.ts';
import { NODE_RECORD_VERSION, type NodeRecord } from './node-record.ts';
import type { AccountLookup, BuiltinResult, OverlayFile, OverlayProblem } from './types.ts';

/** The bytes of a site overlay folder, by path relative to it (what the spec loader read). */
export interface SiteOverlayFiles {
  readonly files: ReadonlyMap<string, { readonly bytes: Uint8Array; readonly mode: number }>;
  readonly symlinks: ReadonlyMap<string, string>;
}

interface Owner {
  /** The owners key (a path on the node) this came from. */
  readonly key: string;
  readonly user: string;
  readonly group: string;
  readonly at: SourceRef;
}

interface TemplateEntry {
  readonly kind: 'template';
  readonly path: string;
  /** The template as the spec folder names it (`overlays/x/etc/motd.hbs`), for messages. */
  readonly shown: string;
  readonly file: string;
  readonly mode: number;
  readonly ast: hbs.AST.Program;
  readonly render: Handlebars.TemplateDelegate<NodeRecord>;
  readonly owner?: Owner;
}

type CopiedEntry = {
  readonly kind: 'copied';
  readonly path: string;
  readonly owner?: Owner;
  /** The entry as it lands on the node when nobody owns it (root:root), shared by every node. */
  readonly asRoot: OverlayFile;
};

type Entry = TemplateEntry | CopiedEntry;

/** A site overlay ready to render for any node: templates compiled, owners matched to paths. */
export interface CompiledSiteOverlay {
  readonly name: string;
  /** Entries in path order. */
  readonly entries: readonly Entry[];
  /** Whether any entry has an owner (then rendering needs the image's accounts). */
  readonly owned: boolean;
}

/** The template language: Handlebars' block helpers plus `join`; no partials, no `log`, no helper the spec defines. */
let engine: typeof Handlebars | undefined;

/**
 * Load the template engine (once). Handlebars is loaded only when a spec has a template: a plan of a cluster without
 * `.hbs` files does not pay for compiling it at start-up (issue 17's start-up budget).
 */
export async function loadTemplateEngine(): Promise<void> {
  if (engine) return;
  const H = (await import('handlebars')).default;
  const e = H.create();
  e.unregisterHelper('log');
  e.registerHelper('join', function join(this: unknown, ...args: unknown[]) {
    const options = args.pop() as { loc?: hbs.AST.SourceLocation };
    const [list, sep] = args;
    if (!Array.isArray(list)) throw new e.Exception('join needs a list as its first argument, e.g. {{join dns " "}}', { loc: options.loc } as hbs.AST.Node);
    return list.join(typeof sep === 'string' ? sep : ',');
  });
  engine = e;
}

function hb(): typeof Handlebars {
  if (!engine) throw new Error('internal: loadTemplateEngine() was not awaited before compiling a site template');
  return engine;
}
const COMPILE_OPTIONS = { strict: true, noEscape: true, knownHelpers: { join: true, log: false }, knownHelpersOnly: true } as const;
const HELPERS = 'if, unless, each, with, lookup, join';

/**
 * Directories whose mode on a Linux root is not 0755: an owned folder entry keeps it (a site file under /tmp must not
 * take the sticky bit off /tmp, nor one under /root/.ssh open it to everyone).
 */
const DIR_MODES: Readonly<Record<string, number>> = { tmp: 0o1777, 'var/tmp': 0o1777, 'dev/shm': 0o1777, root: 0o550, 'root/.ssh': 0o700 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Compile a site overlay once for all nodes; problems (bad paths, template syntax, owners naming nothing) are per overlay. */
export function compileSiteOverlay(o: OverlayModel, src: SiteOverlayFiles): CompiledSiteOverlay | { problems: OverlayProblem[] } {
  const problems: OverlayProblem[] = [];
  const folder = o.source ?? `overlays/${o.name}`;
  const shown = (rel: string): string => posix.join(folder, rel);
  const fileOf = (rel: string): string => (folder.startsWith('/') ? shown(rel) : posix.join(posix.dirname(o.at.file), shown(rel)));
  const drafts: { path: string; from: string; make: () => Entry | undefined }[] = [];

  for (const rel of o.files) {
    if (!validOverlayPath(rel)) {
      problems.push({ code: 'overlay/bad-path', message: `site overlay ${o.name} lists "${rel}", which is not a path inside its folder ${folder}`, at: o.at });
      continue;
    }
    const target = src.symlinks.get(rel) ?? o.symlinks?.[rel];
    if (target !== undefined) {
      drafts.push({ path: rel, from: rel, make: () => copied(rel, { path: rel, type: 'symlink', mode: 0o777, uid: 0, gid: 0, target }) });
      continue;
    }
    const f = src.files.get(rel);
    if (f === undefined) {
      problems.push({ code: 'overlay/missing-file', message: `site overlay ${o.name} lists ${shown(rel)}, but its bytes were not read`, hint: 'run herd again; the folder changed while it was read', at: o.at });
      continue;
    }
    const mode = f.mode & 0o7777;
    if (rel.endsWith('.ww')) {
      // Copied as it is, a Warewulf template would land on the node as etc/issue.ww, and /etc/issue would stay unchanged.
      problems.push({ code: 'overlay/warewulf-template', message: `${shown(rel)} is a Warewulf template (.ww); herd renders site templates written in Handlebars (.hbs) and would copy this one as it is`, hint: `rename it to ${posix.basename(rel.slice(0, -3))}.hbs and write it with the node record (docs/overlay-templates.md), e.g. {{.Id}} becomes {{name}}`, at: { file: fileOf(rel), path: [] } });
      continue;
    }
    if (!rel.endsWith('.hbs')) {
      drafts.push({ path: rel, from: rel, make: () => copied(rel, { path: rel, type: 'file', mode, uid: 0, gid: 0, content: f.bytes }) });
      continue;
    }
    const out = rel.slice(0, -'.hbs'.length);
    if (!validOverlayPath(out)) {
      problems.push({ code: 'overlay/bad-path', message: `template ${shown(rel)} has no file name before .hbs, so it would write "${out}" on the node`, hint: 'name a template after the file it writes, e.g. etc/motd.hbs for /etc/motd', at: { file: fileOf(rel), path: [] } });
      continue;
    }
    drafts.push({
      path: out,
      from: rel,
      make: () => {
        const t = compileTemplate(f.bytes, shown(rel), fileOf(rel));
        if ('problem' in t) {
          problems.push(t.problem);
          return undefined;
        }
        return { kind: 'template', path: out, shown: shown(rel), file: fileOf(rel), mode, ast: t.ast, render: t.render };
      },
    });
  }

  // Two entries writing one path (etc/motd beside etc/motd.hbs), or a file where another entry needs a folder.
  const byPath = new Map<string, string>();
  for (const d of drafts) {
    const first = byPath.get(d.path);
    if (first !== undefined) problems.push({ code: 'overlay/duplicate-path', message: `site overlay ${o.name}: ${shown(first)} and ${shown(d.from)} both write /${d.path}`, hint: 'keep one of them', at: { file: fileOf(d.from), path: [] } });
    else byPath.set(d.path, d.from);
  }
  const dirs = new Set<string>();
  for (const d of drafts) {
    const parts = d.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const clash = byPath.get(dir);
      if (clash !== undefined && !dirs.has(dir)) problems.push({ code: 'overlay/path-conflict', message: `site overlay ${o.name}: ${shown(clash)} writes /${dir} as a file, but ${shown(d.from)} needs it to be a folder`, at: { file: fileOf(clash), path: [] } });
      dirs.add(dir);
    }
  }

  const owners = matchOwners(o, [...byPath.keys(), ...dirs], problems);
  const entries: Entry[] = [];
  for (const d of drafts) {
    if (byPath.get(d.path) !== d.from) continue;
    const e = d.make();
    if (e !== undefined) entries.push(withOwner(e, owners(e.path)));
  }
  // Folders get entries only where owners name them: every other parent is added by compose (0755 root:root) unless an
  // earlier overlay gives it, so a site file under root/.ssh keeps the 0700 that ssh.authorized_keys gives that folder.
  for (const dir of dirs) {
    const owner = owners(dir);
    if (owner !== undefined) entries.push(withOwner(copied(dir, { path: dir, type: 'directory', mode: DIR_MODES[dir] ?? 0o755, uid: 0, gid: 0 }), owner));
  }
  if (problems.length > 0) return { problems };
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { name: o.name, entries, owned: entries.some((e) => e.owner !== undefined) };
}

function copied(path: string, f: OverlayFile): CopiedEntry {
  return { kind: 'copied', path, asRoot: Object.freeze(f) };
}

function withOwner<E extends Entry>(e: E, owner: Owner | undefined): E {
  return owner === undefined ? e : { ...e, owner };
}

/**
 * Owners apply by path on the node: a file's own path, or a folder's, which covers the folder entry and everything under
 * it; the longest matching key wins. A key that matches nothing is an error, since the file it meant would stay root's.
 */
function matchOwners(o: OverlayModel, paths: readonly string[], problems: OverlayProblem[]): (path: string) => Owner | undefined {
  const keys: Owner[] = [];
  for (const [key, who] of Object.entries(o.owners ?? {})) {
    if (!validOverlayPath(key)) {
      problems.push({ code: 'overlay/bad-path', message: `overlays.${o.name}.owners names "${key || '/'}", which is not a path inside the overlay`, hint: key === '' ? 'name the files or folders the owner should get, e.g. etc/slurm' : 'write the path as on the node, e.g. etc/slurm/cgroup.conf', at: who.at });
      continue;
    }
    const owner = { key, user: who.user, group: who.group, at: who.at };
    if (!paths.some((p) => p === key || p.startsWith(`${key}/`))) {
      const outputName = key.endsWith('.hbs') && paths.includes(key.slice(0, -4)) ? key.slice(0, -4) : undefined;
      const guess = outputName ?? didYouMean(key, paths);
      problems.push({ code: 'overlay/owner-unmatched', message: `overlays.${o.name}.owners names ${key}, which is not in the overlay's folder`, hint: outputName ? `owners name the path on the node: write ${outputName}` : guess ? `did you mean ${guess}?` : `owners name paths on the node, relative to /, of files or folders in ${o.source ?? `overlays/${o.name}`}`, at: who.at });
      continue;
    }
    keys.push(owner);
  }
  keys.sort((a, b) => b.key.length - a.key.length);
  return (path) => keys.find((k) => path === k.key || path.startsWith(`${k.key}/`));
}

type Compiled = { ast: hbs.AST.Program; render: Handlebars.TemplateDelegate<NodeRecord> } | { problem: OverlayProblem };

function compileTemplate(bytes: Uint8Array, shown: string, file: string): Compiled {
  const fail = (message: string, line?: number, column?: number, hint?: string): Compiled => ({
    problem: { code: 'overlay/template-syntax', message, ...(hint ? { hint } : {}), at: { file, path: [], ...(line !== undefined ? { line } : {}), ...(column !== undefined ? { column } : {}) } },
  });
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail(`template ${shown} is not UTF-8 text`, undefined, undefined, 'save it as UTF-8, or drop the .hbs suffix to copy it as it is');
  }
  let ast: hbs.AST.Program;
  try {
    ast = hb().parse(text);
    const banned = findNode(ast, (n) => /^(Partial|PartialBlock|Decorator|DecoratorBlock)/.test(n.type));
    if (banned) return fail(`template ${shown}:${banned.loc.start.line} uses a ${banned.type.startsWith('Partial') ? 'partial ({{> name}})' : 'decorator ({{* name}})'}, which site templates cannot`, banned.loc.start.line, banned.loc.start.column + 1, 'each template is one self-contained file; repeat the text, or loop with {{#each}}');
    // compile is lazy; precompile runs the whole compiler now, so its errors (an unknown helper) come once, here.
    hb().precompile(ast, COMPILE_OPTIONS);
  } catch (e) {
    const { line, column, detail } = hbsError(e);
    return fail(`template ${shown}${line !== undefined ? `:${line}` : ''} does not compile: ${detail}`, line, column, /unknown helper/.test(detail) ? `site templates have the helpers ${HELPERS}` : 'see docs/overlay-templates.md for the template language');
  }
  return { ast, render: hb().compile<NodeRecord>(ast, COMPILE_OPTIONS) };
}

/** A Handlebars error's 1-based line and column and its message without the position suffix or the parser's code frame. */
function hbsError(e: unknown): { line?: number; column?: number; detail: string } {
  const err = e as { message?: string; lineNumber?: number; column?: number };
  const message = String(err.message ?? e);
  const parse = /^Parse error on line (\d+):\n[\s\S]*\n(.*)$/.exec(message);
  if (parse) return { line: Number(parse[1]), detail: parse[2]!.replace(/^Expecting /, 'expecting ') };
  const detail = message.replace(/ - \d+:\d+$/, '');
  return typeof err.lineNumber === 'number' ? { line: err.lineNumber, column: (err.column ?? 0) + 1, detail } : { detail };
}

function findNode(n: unknown, test: (n: hbs.AST.Node) => boolean): hbs.AST.Node | undefined {
  if (n === null || typeof n !== 'object') return undefined;
  if (Array.isArray(n)) {
    for (const x of n) {
      const hit = findNode(x, test);
      if (hit) return hit;
    }
    return undefined;
  }
  const node = n as hbs.AST.Node & Record<string, unknown>;
  if (typeof node.type === 'string' && node.loc && test(node)) return node;
  for (const k in node) {
    if (k === 'loc') continue;
    const hit = findNode(node[k], test);
    if (hit) return hit;
  }
  return undefined;
}

/** One node's files of a compiled site overlay. `accounts` undefined: the node's image is not built yet. */
export function renderSiteOverlay(c: CompiledSiteOverlay, record: NodeRecord, accounts: AccountLookup | undefined): BuiltinResult {
  const problems: OverlayProblem[] = [];
  let ids: Map<string, { uid: number; gid: number } | undefined> | undefined;
  if (c.owned) {
    if (accounts === undefined) {
      return { problems: [{ code: 'overlay/accounts-unknown', message: `site overlay ${c.name} sets owners, and the users and groups of node ${record.name}'s image ${record.image} are not known yet`, hint: `build image ${record.image} first (herd build)` }] };
    }
    ids = new Map();
    for (const e of c.entries) {
      if (e.owner === undefined || ids.has(e.owner.key)) continue;
      const uid = accounts.uid(e.owner.user);
      const gid = accounts.gid(e.owner.group);
      if (uid === undefined || gid === undefined) {
        const what = uid === undefined ? `user "${e.owner.user}"` : `group "${e.owner.group}"`;
        problems.push({ code: 'overlay/unknown-owner', message: `site overlay ${c.name} gives /${e.owner.key} to ${what}, which image ${record.image} (node ${record.name}) does not have`, hint: `add the ${uid === undefined ? 'user' : 'group'} to image ${record.image} or to the site's users (head.users), or name one the image has`, at: e.owner.at });
        ids.set(e.owner.key, undefined);
      } else ids.set(e.owner.key, { uid, gid });
    }
  }
  const files: OverlayFile[] = [];
  for (const e of c.entries) {
    const owner = e.owner === undefined ? { uid: 0, gid: 0 } : ids?.get(e.owner.key);
    if (e.kind === 'copied') {
      if (owner !== undefined) files.push(e.owner === undefined ? e.asRoot : { ...e.asRoot, ...owner });
      continue;
    }
    let content: string;
    try {
      content = e.render(record);
    } catch (err) {
      problems.push(templateProblem(e, record, err));
      continue;
    }
    if (owner !== undefined) files.push({ path: e.path, type: 'file', mode: e.mode, ...owner, content });
  }
  return problems.length > 0 ? { problems } : { files };
}

function templateProblem(e: TemplateEntry, record: NodeRecord, err: unknown): OverlayProblem {
  const { line, column, detail } = hbsError(err);
  const at: SourceRef = { file: e.file, path: [], ...(line !== undefined ? { line } : {}), ...(column !== undefined ? { column } : {}) };
  const where = `${e.shown}${line !== undefined ? `:${line}` : ''}`;
  const missing = /^"(.*)" not defined in /.exec(detail)?.[1];
  if (missing === undefined) return { code: 'overlay/template-error', message: `template ${where} fails for node ${record.name}: ${detail}`, at };
  // Name the whole path as written ({{slurm.gpus.type}}), not only the part Handlebars could not find.
  const path = line !== undefined && column !== undefined ? findNode(e.ast, (n) => n.type === 'PathExpression' && n.loc.start.line === line && n.loc.start.column + 1 === column) : undefined;
  const written = (path as hbs.AST.PathExpression | undefined)?.original ?? missing;
  const guess = didYouMean(missing, keysNear(record, written));
  return {
    code: 'overlay/template-error',
    message: `template ${where} uses "${written}", which node ${record.name} does not have`,
    hint: guess && guess !== missing ? `did you mean ${guess}?` : `test an optional field before using it ({{#if ${written}}}…{{/if}}); the node record (version ${NODE_RECORD_VERSION}) is in docs/overlay-templates.md`,
    at,
  };
}

/** Field names a misspelt `written` may have meant: those beside it in the record, else every field name in it. */
function keysNear(record: NodeRecord, written: string): string[] {
  const parts = written.split('.');
  let at: unknown = record;
  for (const p of parts.slice(0, -1)) at = at !== null && typeof at === 'object' && Object.hasOwn(at, p) ? (at as Record<string, unknown>)[p] : undefined;
  if (parts.length > 1 && at !== null && typeof at === 'object' && !Array.isArray(at)) return Object.keys(at);
  const all = new Set<string>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return visit(v[0]);
    for (const k of Object.keys(v)) {
      all.add(k);
      if (k !== 'tags') visit((v as Record<string, unknown>)[k]);
    }
  };
  visit(record);
  return [...all];
}
