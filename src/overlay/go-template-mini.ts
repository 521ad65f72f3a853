// A minimal Go text/template renderer (pure) for exactly the constructs Warewulf 4.6's wwinit and wwclient templates use:
// output actions, `$`/dot field chains, a map key read as a field, zero-argument methods, Go printing (a nil net.IP prints
// `<nil>`, a missing map key `<no value>`), `if`/`end`, `{{-`/`-}}` trimming, interpreted string literals, parenthesized
// sub-expressions and the functions the caller provides (`index`, sprig's `default` and Warewulf's `Include`).
// Anything else (range, with, else, variables, pipelines, comments, numbers...) is refused with its line, never guessed at:
// a silently different render would boot nodes differently from Warewulf. Semantics follow Go 1.22 text/template with
// Option("missingkey=default") [text/template/exec.go, parse/lex.go] and sprig v3 `default`/`empty`.

/** A Go value of the template data, as far as this renderer models it. */
export type GoValue =
  /** A string, or a named string type (`wwtype.WWbool`) with zero-argument methods. */
  | { readonly kind: 'string'; readonly value: string; readonly type?: string; readonly methods?: Readonly<Record<string, () => GoValue>> }
  | { readonly kind: 'bool'; readonly value: boolean }
  /** A net.IP: printed through its String(), so nil prints `<nil>`; `value` is the printed form of a non-nil address. */
  | { readonly kind: 'ip'; readonly value: string | null }
  | { readonly kind: 'struct'; readonly type: string; readonly fields: Readonly<Record<string, GoValue>> }
  /** A map[string]string (possibly nil: no entries). */
  | { readonly kind: 'map'; readonly type: string; readonly entries: ReadonlyMap<string, string> }
  /** The invalid reflect.Value a missing map key gives under missingkey=default. */
  | { readonly kind: 'invalid' };

/** A template function: returns its result, or an error text (Go's "error calling X: ..."). */
export type GoFunc = (args: readonly GoValue[]) => GoValue | { readonly error: string };

/** Why a template cannot be rendered: the 1-based line and the construct (or value) that stopped it. */
export interface GoTemplateError {
  readonly line: number;
  readonly construct: string;
  readonly message: string;
}

export type GoRenderResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly error: GoTemplateError };

export const goString = (value: string): GoValue => ({ kind: 'string', value });

type Operand =
  | { readonly t: 'string'; readonly value: string; readonly line: number }
  | { readonly t: 'chain'; readonly base: '$' | '.'; readonly fields: readonly string[]; readonly line: number; readonly src: string }
  | { readonly t: 'paren'; readonly cmd: Command; readonly line: number }
  | { readonly t: 'func'; readonly name: string; readonly line: number };
interface Command {
  readonly operands: readonly Operand[];
  readonly line: number;
}
type Node =
  | { readonly t: 'text'; readonly text: string }
  | { readonly t: 'action'; readonly cmd: Command }
  | { readonly t: 'if'; readonly cond: Command; readonly body: Node[]; readonly line: number };

class Refused extends Error {
  readonly err: GoTemplateError;
  constructor(line: number, construct: string, message: string) {
    super(message);
    this.err = { line, construct, message };
  }
}

const SPACE = new Set([' ', '\t', '\r', '\n']);
const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.has(c);
const isIdentStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isIdent = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
const KEYWORDS = new Set(['if', 'end', 'else', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil', 'true', 'false']);
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n', t: '\t', r: '\r' };

type Token =
  | { readonly t: 'string'; readonly value: string; readonly pos: number; readonly space: boolean }
  | { readonly t: 'dollar' | 'dot' | 'lparen' | 'rparen'; readonly pos: number; readonly space: boolean }
  | { readonly t: 'field' | 'ident'; readonly name: string; readonly pos: number; readonly space: boolean };

/** Render `text` against `data` (both `$` and dot) with `funcs`; refuses, with the line, what the renderer does not model. */
/** Parsed templates by function names and text: the same four templates are rendered for every node of a cluster. */
const parsedCache = new Map<string, ReturnType<typeof parse>>();

export function renderGoTemplate(text: string, data: GoValue, funcs: Readonly<Record<string, GoFunc>>): GoRenderResult {
  try {
    const key = `${Object.keys(funcs).sort().join(',')}\0${text}`;
    let nodes = parsedCache.get(key);
    if (nodes === undefined) {
      nodes = parse(text, lineIndex(text), funcs);
      if (parsedCache.size > 64) parsedCache.clear();
      parsedCache.set(key, nodes);
    }
    const out: string[] = [];
    execute(nodes, data, funcs, out);
    return { ok: true, text: out.join('') };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, error: e.err };
    throw e;
  }
}

function lineIndex(text: string): (pos: number) => number {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return (pos) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Split into text and actions (Go's lexText/lexLeftDelim/atRightDelim, with `{{- ` and ` -}}` trimming), then build the tree. */
function parse(text: string, lineAt: (pos: number) => number, funcs: Readonly<Record<string, GoFunc>>): Node[] {
  const root: Node[] = [];
  const stack: { body: Node[]; line: number }[] = [{ body: root, line: 0 }];
  let pos = 0;
  let trimNext = false;
  for (;;) {
    const open = text.indexOf('{{', pos);
    let chunk = text.slice(pos, open < 0 ? text.length : open);
    if (trimNext) chunk = chunk.replace(/^[ \t\r\n]+/, '');
    const leftTrim = open >= 0 && text[open + 2] === '-' && isSpace(text[open + 3]);
    if (leftTrim) chunk = chunk.replace(/[ \t\r\n]+$/, '');
    if (chunk !== '') stack[stack.length - 1]!.body.push({ t: 'text', text: chunk });
    if (open < 0) break;
    const start = open + (leftTrim ? 4 : 2);
    const { tokens, end, rightTrim } = lexAction(text, start, lineAt(open));
    trimNext = rightTrim;
    pos = end;
    const line = lineAt(open);
    const first = tokens[0];
    if (first === undefined) throw new Refused(line, '{{}}', 'an empty action (Go: missing value for command)');
    if (first.t === 'ident' && first.name === 'if') {
      const cond = parseCommand(tokens.slice(1), lineAt, funcs, line, 'if');
      const node: Node = { t: 'if', cond, body: [], line };
      stack[stack.length - 1]!.body.push(node);
      stack.push({ body: node.body, line });
    } else if (first.t === 'ident' && first.name === 'end') {
      if (tokens.length > 1) throw new Refused(line, '{{end ...}}', 'unexpected operand after end');
      if (stack.length === 1) throw new Refused(line, '{{end}}', 'an {{end}} without an open {{if}}');
      stack.pop();
    } else {
      stack[stack.length - 1]!.body.push({ t: 'action', cmd: parseCommand(tokens, lineAt, funcs, line, 'action') });
    }
  }
  if (stack.length > 1) throw new Refused(stack[stack.length - 1]!.line, '{{if}}', 'an {{if}} without its {{end}}');
  return root;
}

/** Tokens of one action starting at `start` (after `{{` and its trim marker), up to and past its `}}`. */
function lexAction(text: string, start: number, line: number): { tokens: Token[]; end: number; rightTrim: boolean } {
  const tokens: Token[] = [];
  let i = start;
  let space = true;
  if (text.startsWith('/*', i)) throw new Refused(line, '{{/* */}}', 'a template comment');
  const lineOf = (p: number): number => line + countNewlines(text, start, p);
  for (;;) {
    if (i >= text.length) throw new Refused(line, '{{', 'an action without its closing }}');
    const c = text[i]!;
    if (isSpace(c) && text[i + 1] === '-' && text.startsWith('}}', i + 2)) return { tokens, end: i + 4, rightTrim: true };
    if (text.startsWith('}}', i)) return { tokens, end: i + 2, rightTrim: false };
    if (isSpace(c)) {
      i++;
      space = true;
      continue;
    }
    const pos = i;
    if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        const d = text[i];
        if (d === undefined || d === '\n') throw new Refused(lineOf(pos), '"', 'an unterminated string literal');
        if (d === '"') break;
        if (d === '\\') {
          const e = text[i + 1];
          const decoded = e === undefined ? undefined : ESCAPES[e];
          if (decoded === undefined) throw new Refused(lineOf(pos), `\\${e ?? ''}`, `the string escape \\${e ?? ''}`);
          value += decoded;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
      tokens.push({ t: 'string', value, pos, space });
    } else if (c === '$') {
      if (isIdent(text[i + 1])) {
        const m = /^\$[A-Za-z0-9_]+/.exec(text.slice(i))![0];
        throw new Refused(lineOf(pos), m, `the template variable ${m}`);
      }
      i++;
      tokens.push({ t: 'dollar', pos, space });
    } else if (c === '.') {
      if (isIdentStart(text[i + 1])) {
        const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
        i += m.length;
        tokens.push({ t: 'field', name: m.slice(1), pos, space });
      } else {
        i++;
        tokens.push({ t: 'dot', pos, space });
      }
    } else if (c === '(' || c === ')') {
      i++;
      tokens.push({ t: c === '(' ? 'lparen' : 'rparen', pos, space });
    } else if (isIdentStart(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
      i += m.length;
      tokens.push({ t: 'ident', name: m, pos, space });
    } else {
      const what = c === '|' ? 'a pipeline |' : c === ':' || c === '=' ? 'a variable assignment' : c === '`' ? 'a raw string literal' : c === "'" ? 'a character constant' : /[-+0-9]/.test(c) ? 'a number' : c === ',' ? 'a range variable list' : `the character ${JSON.stringify(c)}`;
      throw new Refused(lineOf(pos), c, what);
    }
    space = false;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text[i] === '\n') n++;
  return n;
}

/** One command (no pipelines): a function with arguments, or a single operand. */
function parseCommand(tokens: readonly Token[], lineAt: (pos: number) => number, funcs: Readonly<Record<string, GoFunc>>, line: number, where: string): Command {
  let i = 0;
  const operand = (): Operand => {
    const tok = tokens[i]!;
    const l = lineAt(tok.pos);
    i++;
    if (tok.t === 'string') return { t: 'string', value: tok.value, line: l };
    if (tok.t === 'ident') {
      if (KEYWORDS.has(tok.name)) throw new Refused(l, `{{${tok.name}}}`, tok.name === 'if' || tok.name === 'end' ? `${tok.name} inside an expression` : `the ${tok.name} keyword`);
      if (!Object.hasOwn(funcs, tok.name)) throw new Refused(l, tok.name, `the function "${tok.name}" (Go: function "${tok.name}" not defined)`);
      return { t: 'func', name: tok.name, line: l };
    }
    if (tok.t === 'lparen') {
      let depth = 1;
      let j = i;
      for (; j < tokens.length; j++) {
        const t = tokens[j]!.t;
        if (t === 'lparen') depth++;
        else if (t === 'rparen' && --depth === 0) break;
      }
      if (j >= tokens.length) throw new Refused(l, '(', 'an unclosed parenthesis');
      const cmd = parseCommand(tokens.slice(i, j), lineAt, funcs, l, 'parenthesized expression');
      i = j + 1;
      const next = tokens[i];
      if (next !== undefined && next.t === 'field' && !next.space) throw new Refused(l, `(...).${next.name}`, 'a field of a parenthesized expression');
      return { t: 'paren', cmd, line: l };
    }
    if (tok.t === 'rparen') throw new Refused(l, ')', 'an unexpected )');
    // `$`, `.` or a leading field: a chain of attached fields.
    const fields: string[] = [];
    if (tok.t === 'field') fields.push(tok.name);
    const base = tok.t === 'dollar' ? '$' : '.';
    while (i < tokens.length) {
      const n = tokens[i]!;
      if (n.t !== 'field' || n.space) break;
      fields.push(n.name);
      i++;
    }
    if (tok.t === 'dot' && fields.length > 0) throw new Refused(l, '..', 'a field after a bare dot');
    return { t: 'chain', base, fields, line: l, src: (base === '$' ? '$' : '') + (fields.length ? fields.map((f) => '.' + f).join('') : base === '.' ? '.' : '') };
  };
  const operands: Operand[] = [];
  while (i < tokens.length) operands.push(operand());
  if (operands.length === 0) throw new Refused(line, where === 'if' ? '{{if}}' : where === 'action' ? '{{}}' : '()', `an empty ${where}`);
  const head = operands[0]!;
  for (const o of operands.slice(1)) if (o.t === 'func') throw new Refused(o.line, o.name, `the function ${o.name} used as an argument without parentheses`);
  if (head.t !== 'func' && operands.length > 1) throw new Refused(head.line, head.t === 'chain' ? head.src : head.t, 'arguments given to a value that is not a function (methods with arguments are not supported)');
  return { operands, line };
}

function execute(nodes: readonly Node[], dot: GoValue, funcs: Readonly<Record<string, GoFunc>>, out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'text') out.push(n.text);
    else if (n.t === 'action') out.push(printValue(evalCommand(n.cmd, dot, funcs), n.cmd.line));
    else if (isTrue(evalCommand(n.cond, dot, funcs))) execute(n.body, dot, funcs, out);
  }
}

function evalCommand(cmd: Command, dot: GoValue, funcs: Readonly<Record<string, GoFunc>>): GoValue {
  const head = cmd.operands[0]!;
  if (head.t !== 'func') return evalOperand(head, dot, funcs);
  const args = cmd.operands.slice(1).map((o) => evalOperand(o, dot, funcs));
  const r = funcs[head.name]!(args);
  if ('error' in r) throw new Refused(head.line, head.name, `error calling ${head.name}: ${r.error}`);
  return r;
}

function evalOperand(o: Operand, dot: GoValue, funcs: Readonly<Record<string, GoFunc>>): GoValue {
  if (o.t === 'string') return goString(o.value);
  if (o.t === 'paren') return evalCommand(o.cmd, dot, funcs);
  if (o.t === 'func') throw new Refused(o.line, o.name, 'a function used as a value');
  // `$` is the data the template was executed with; at the top level (no range/with here) dot is the same value.
  let v = dot;
  for (const f of o.fields) v = field(v, f, o);
  return v;
}

/** Go's evalField: a struct field, then a method, or a map key (missing: the invalid value, as missingkey=default does). */
function field(v: GoValue, name: string, o: Operand & { t: 'chain' }): GoValue {
  switch (v.kind) {
    case 'struct':
      if (Object.hasOwn(v.fields, name)) return v.fields[name]!;
      throw new Refused(o.line, o.src, `the field ${name}: herd's template data has no ${name} in type ${v.type}`);
    case 'map':
      return v.entries.has(name) ? goString(v.entries.get(name)!) : { kind: 'invalid' };
    case 'string':
      if (v.methods && Object.hasOwn(v.methods, name)) return v.methods[name]!();
      break;
    case 'invalid':
      throw new Refused(o.line, o.src, `the field ${name} of a missing value (Go: nil pointer evaluating interface {}.${name})`);
  }
  throw new Refused(o.line, o.src, `the field ${name} of a ${v.kind === 'string' ? (v.type ?? 'string') : v.kind === 'ip' ? 'net.IP' : v.kind} value`);
}

/** Go's isTrue: the invalid value (a missing key) is false, strings and maps by length, a nil net.IP is an empty slice. */
function isTrue(v: GoValue): boolean {
  switch (v.kind) {
    case 'invalid':
      return false;
    case 'bool':
      return v.value;
    case 'string':
      return v.value.length > 0;
    case 'ip':
      return v.value !== null;
    case 'map':
      return v.entries.size > 0;
    case 'struct':
      return true;
  }
}

/** Go's printValue + fmt.Print: the invalid value prints `<no value>`, net.IP through String() (nil: `<nil>`). */
function printValue(v: GoValue, line: number): string {
  switch (v.kind) {
    case 'invalid':
      return '<no value>';
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'string':
      return v.value;
    case 'ip':
      return v.value ?? '<nil>';
    case 'map':
    case 'struct':
      throw new Refused(line, v.type, `printing a whole ${v.type} value`);
  }
}

/** sprig's empty(): nil, false, "", empty maps and slices (a nil net.IP) are empty; structs never are. */
export function goEmpty(v: GoValue): boolean {
  return v.kind === 'struct' ? false : !isTrue(v);
}

/** Go's builtin `index` for one key of a map[string]string: a missing key gives the zero value "". */
export const goIndex: GoFunc = (args) => {
  if (args.length !== 2) return { error: `herd's renderer supports index with exactly one key, not ${args.length - 1}` };
  const [m, k] = args as [GoValue, GoValue];
  if (m.kind === 'invalid') return { error: 'index of untyped nil' };
  if (m.kind !== 'map') return { error: `can't index item of type ${m.kind}` };
  if (k.kind !== 'string') return { error: `value has type ${k.kind}; should be string` };
  return goString(m.entries.get(k.value) ?? '');
};

/** sprig's `default d given`: `d` when `given` is empty, else `given`. */
export const goDefault: GoFunc = (args) => {
  if (args.length !== 2) return { error: `herd's renderer supports default with exactly two arguments, not ${args.length}` };
  const [d, given] = args as [GoValue, GoValue];
  return goEmpty(given) ? d : given;
};
