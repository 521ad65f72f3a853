// Reading the head's other files an import needs (pure): warewulf.conf, /etc/exports, /etc/hosts and firewalld's trusted zone.
import type { Diagnostic, SourceRef } from '../diagnostics/diagnostic.ts';
import { loadYaml } from '../spec/load.ts';
import type { PositionIndex } from '../spec/positions.ts';

export interface WarewulfConf {
  readonly file: string;
  /** The document as plain values (undefined when unreadable). */
  readonly value: Record<string, unknown> | undefined;
  readonly index: PositionIndex;
  readonly diagnostics: readonly Diagnostic[];
}

export function readWarewulfConf(file: string, bytes: Uint8Array | string): WarewulfConf {
  const loaded = loadYaml(file, bytes);
  const v = loaded.value;
  const ok = v !== null && typeof v === 'object' && !Array.isArray(v);
  return { file, value: ok ? (v as Record<string, unknown>) : undefined, index: loaded.index, diagnostics: loaded.diagnostics };
}

/** A value of warewulf.conf by path, as parsed, or undefined. */
function confValue(conf: WarewulfConf | undefined, path: readonly string[]): unknown {
  let cur: unknown = conf?.value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** A value of warewulf.conf by path, as a string (numbers and booleans as written), or undefined. */
export function confString(conf: WarewulfConf | undefined, path: readonly string[]): string | undefined {
  const v = confValue(conf, path);
  return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
}

/** A list of warewulf.conf by path, its items as strings; undefined when absent or not a list of strings. */
export function confList(conf: WarewulfConf | undefined, path: readonly string[]): string[] | undefined {
  const v = confValue(conf, path);
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

export interface ExportLine {
  readonly path: string;
  /** client -> options, in order. */
  readonly clients: readonly { readonly client: string; readonly options: string }[];
  readonly at: SourceRef;
}

/** exports(5): `path client(opts) client2(opts)`, `#` comments, `\` continuations. */
export function parseExports(file: string, text: string): ExportLine[] {
  const out: ExportLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!.replace(/#.*$/, '');
    const start = i + 1;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) l = l.replace(/\\\s*$/, ' ') + lines[++i]!.replace(/#.*$/, '');
    const words = l.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) continue;
    const path = words[0]!.replace(/^"(.*)"$/, '$1');
    const clients = words.slice(1).map((w) => {
      const m = /^([^(]*)\((.*)\)$/.exec(w);
      return m ? { client: m[1]!, options: m[2]! } : { client: w, options: '' };
    });
    out.push({ path, clients, at: { file, path: [], line: start, column: 1 } });
  }
  return out;
}

export interface HostsEntry {
  readonly address: string;
  readonly names: readonly string[];
  readonly at: SourceRef;
}

export function parseHosts(file: string, text: string): HostsEntry[] {
  const out: HostsEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const words = raw.replace(/#.*$/, '').trim().split(/\s+/).filter((w) => w !== '');
    if (words.length >= 2) out.push({ address: words[0]!, names: words.slice(1), at: { file, path: [], line: i + 1, column: 1 } });
  });
  return out;
}

/** The interfaces firewalld's trusted zone names (herd puts the cluster NIC there). */
export function trustedInterfaces(text: string): string[] {
  return [...text.matchAll(/<interface\s+name="([^"]+)"\s*\/>/g)].map((m) => m[1]!);
}

/** The source addresses a firewalld zone file names. */
export function trustedSources(text: string): string[] {
  return [...text.matchAll(/<source\s+address="([^"]+)"\s*\/>/g)].map((m) => m[1]!);
}

/**
 * What a firewalld zone file means, as far as herd writes one: its target, interfaces and sources (sorted); `<short>` and
 * `<description>` are labels. Undefined when the zone holds anything else (services, ports, rules...): then it is compared
 * line by line.
 */
export function zoneMeaning(text: string): string | undefined {
  const body = text.replace(/<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '').replace(/<short>[^<]*<\/short>|<description>[^<]*<\/description>/g, '');
  const rest = body.replace(/<zone(\s[^>]*)?>|<\/zone>|<interface\s+name="[^"]+"\s*\/>|<source\s+address="[^"]+"\s*\/>/g, '');
  if (rest.trim() !== '') return undefined;
  const target = /<zone\s[^>]*target="([^"]*)"/.exec(body)?.[1] ?? 'default';
  return JSON.stringify({ target, interfaces: trustedInterfaces(body).sort(), sources: trustedSources(body).sort() });
}
