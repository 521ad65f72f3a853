// The minimal Go-template renderer and the wwinit/wwclient install reader: each construct the pinned templates use, the
// refusal of everything else (with its line), hash pinning per release, and reading an install tree without following links.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { goDefault, goIndex, goString, renderGoTemplate, type GoFunc, type GoValue } from '../../../src/overlay/go-template-mini.ts';
import { readInstallOverlay, renderInstallOverlay, TEMPLATE_PINS, type InstallEntry, type InstallOverlay } from '../../../src/overlay/warewulf-install.ts';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import type { OverlayFile } from '../../../src/overlay/types.ts';

const tags = (e: Record<string, string>): GoValue => ({ kind: 'map', type: 'map[string]string', entries: new Map(Object.entries(e)) });
const wwbool = (s: string): GoValue => ({ kind: 'string', type: 'wwtype.WWbool', value: s, methods: { Bool: () => ({ kind: 'bool', value: s === 'true' }) } });
const data = (ipmiTags: Record<string, string> = {}, ip: string | null = null): GoValue => ({
  kind: 'struct',
  type: 'T',
  fields: {
    Id: goString('c1'),
    ImageName: goString('rocky'),
    Ipmi: { kind: 'struct', type: '*node.IpmiConf', fields: { Ipaddr: { kind: 'ip', value: ip }, UserName: goString(''), Write: wwbool(''), Tags: tags(ipmiTags) } },
    Paths: { kind: 'struct', type: 'config.BuildConfig', fields: { WWClientdir: goString('/warewulf') } },
  },
});
const funcs: Record<string, GoFunc> = { default: goDefault, index: goIndex, Include: (a) => (a[0]?.kind === 'string' ? goString(`<${a[0].value}>`) : { error: 'bad' }) };
const render = (t: string, d: GoValue = data()) => renderGoTemplate(t, d, funcs);
const text = (t: string, d?: GoValue): string => {
  const r = render(t, d);
  if (!r.ok) throw new Error(`${r.error.line}: ${r.error.construct}: ${r.error.message}`);
  return r.text;
};
const refused = (t: string) => {
  const r = render(t);
  if (r.ok) throw new Error(`rendered: ${JSON.stringify(r.text)}`);
  return r.error;
};

describe('go-template-mini: the constructs of the wwinit/wwclient templates', () => {
  it('output actions on `$` and dot field chains', () => {
    expect(text('A={{$.ImageName}} B={{ .Id }} C={{ .Paths.WWClientdir }}/x')).toBe('A=rocky B=c1 C=/warewulf/x');
  });

  it('a nil net.IP prints <nil>, a set one its address, empty strings nothing', () => {
    expect(text('"{{$.Ipmi.Ipaddr}}" "{{$.Ipmi.UserName}}"')).toBe('"<nil>" ""');
    expect(text('{{$.Ipmi.Ipaddr}}', data({}, '10.0.0.9'))).toBe('10.0.0.9');
  });

  it('a zero-argument method: WWbool.Bool', () => {
    expect(text('WRITE="{{$.Ipmi.Write.Bool}}" raw="{{$.Ipmi.Write}}"')).toBe('WRITE="false" raw=""');
  });

  it('a map key read as a field: the value, or an invalid value (falsy, printed <no value>)', () => {
    expect(text('{{$.Ipmi.Tags.vlan}}', data({ vlan: '42' }))).toBe('42');
    expect(text('{{$.Ipmi.Tags.vlan}}')).toBe('<no value>');
    expect(text('{{if $.Ipmi.Tags.vlan}}yes{{end}}')).toBe('');
    expect(text('{{if $.Ipmi.Tags.vlan}}yes{{end}}', data({ vlan: '42' }))).toBe('yes');
  });

  it('if/end with Go truthiness: empty strings, nil IPs and false are false', () => {
    expect(text('{{if .Id}}a{{end}}{{if .Ipmi.UserName}}b{{end}}{{if .Ipmi.Ipaddr}}c{{end}}{{if .Ipmi.Write.Bool}}d{{end}}{{if .Ipmi}}e{{end}}')).toBe('ae');
    expect(text('{{if .Id}}{{if .Ipmi.Tags.x}}no{{end}}yes{{end}}')).toBe('yes');
  });

  it('trim markers: {{- trims before, -}} after, only with a space beside the dash', () => {
    const config = 'WRITE="{{$.Ipmi.Write.Bool}}"\n{{- if $.Ipmi.Tags.vlan }}\nVLAN="{{$.Ipmi.Tags.vlan}}"\n{{- end }}\n';
    expect(text(config)).toBe('WRITE="false"\n');
    expect(text(config, data({ vlan: '7' }))).toBe('WRITE="false"\nVLAN="7"\n');
    expect(text('a  \n\t{{- .Id -}}  \n b')).toBe('ac1b');
    expect(text('a {{.Id}} b')).toBe('a c1 b');
  });

  it('string literals with escapes, parenthesized sub-expressions, default over index', () => {
    const ipmi = 'speed={{ default "38.4" (index .Ipmi.Tags "bit-rate") }}';
    expect(text(ipmi)).toBe('speed=38.4');
    expect(text(ipmi, data({ 'bit-rate': '115.2' }))).toBe('speed=115.2');
    expect(text('{{ "a\\"b\\\\c\\td" }}')).toBe('a"b\\c\td');
    expect(text('{{ default "x" .Ipmi.Tags.missing }}|{{ default "x" .Ipmi.Ipaddr }}|{{ default "x" .Ipmi.Write.Bool }}|{{ default "x" .Ipmi.UserName }}')).toBe('x|x|x|x');
  });

  it('default: a struct is never empty (it is returned as is)', () => {
    const r = render('{{ default "x" .Ipmi }}');
    expect(r.ok).toBe(false); // printing the whole struct is refused, which shows default returned it
    expect(text('{{ default "x" "" }}{{ default "x" "y" }}')).toBe('xy');
  });

  it('Include: a function the caller provides; its error is reported with the line', () => {
    expect(text('{{Include "warewulf.conf"}}\n')).toBe('<warewulf.conf>\n');
    const r = renderGoTemplate('x\n{{Include "passwd"}}', data(), { Include: () => ({ error: 'herd supplies only warewulf.conf to Include, not passwd' }) });
    expect(r).toEqual({ ok: false, error: { line: 2, construct: 'Include', message: 'error calling Include: herd supplies only warewulf.conf to Include, not passwd' } });
  });
});

describe('go-template-mini: anything else is refused with its line and construct', () => {
  const cases: [string, number, string][] = [
    ['a\n{{range .Ipmi.Tags}}x{{end}}', 2, '{{range}}'],
    ['{{if .Id}}\nx\n{{else}}y{{end}}', 3, '{{else}}'],
    ['\n\n{{ .Id | printf "%s" }}', 3, '|'],
    ['{{ $x := .Id }}', 1, '$x'],
    ['x\n{{/* a comment */}}', 2, '{{/* */}}'],
    ['{{ 3 }}', 1, '3'],
    ['{{-3}}', 1, '-'],
    ['{{ `raw` }}', 1, '`'],
    ['line1\nline2 {{ printf "%s" .Id }}', 2, 'printf'],
    ['{{ .BuildHost }}', 1, '.BuildHost'],
    ['{{ .Id.Foo }}', 1, '.Id.Foo'],
    ['{{ .Ipmi.Tags.vlan.x }}', 1, '.Ipmi.Tags.vlan.x'],
    ['{{ .Ipmi }}', 1, '*node.IpmiConf'],
    ['{{ .Id "arg" }}', 1, '.Id'],
    ['{{ "\\x41" }}', 1, '\\x'],
    ['{{if .Id}}open', 1, '{{if}}'],
    ['x{{end}}', 1, '{{end}}'],
    ['{{ .Id }', 1, '}'],
    ['x\n{{ .Id ', 2, '{{'],
    ['{{}}', 1, '{{}}'],
    ['{{ if }}x{{ end }}', 1, '{{if}}'],
    ['{{ default "a" () }}', 1, '()'],
    ['{{ with .Id }}{{ end }}', 1, '{{with}}'],
    ['{{ default "a" index .Ipmi.Tags "b" }}', 1, 'index'],
    ['{{ (index .Ipmi.Tags "a").X }}', 1, '(...).X'],
    ['{{ index .Ipmi.Tags "a" "b" }}', 1, 'index'],
    ['{{ index .Ipmi.Tags.none "a" }}', 1, 'index'],
  ];
  for (const [tpl, line, construct] of cases) {
    it(`${JSON.stringify(tpl)} -> line ${line}, ${construct}`, () => {
      const e = refused(tpl);
      expect({ line: e.line, construct: e.construct }).toEqual({ line, construct });
      expect(e.message.length).toBeGreaterThan(0);
    });
  }
});

// The 4.6.1-4.6.4 templates, byte for byte (git blobs at the tags); 4.6.5 adds init.d/50-ipmi.ww.
const WW_CONF_WW = '{{Include "warewulf.conf"}}\n';
const CONFIG_WW =
  'WWIMAGE={{$.ImageName}}\nWWHOSTNAME={{$.Id}}\nWWROOT={{$.Root}}\nWWINIT={{$.Init}}\nWWIPMI_IPADDR="{{$.Ipmi.Ipaddr}}"\nWWIPMI_NETMASK="{{$.Ipmi.Netmask}}"\n' +
  'WWIPMI_GATEWAY="{{$.Ipmi.Gateway}}"\nWWIPMI_USER="{{$.Ipmi.UserName}}"\nWWIPMI_PASSWORD="{{$.Ipmi.Password}}"\nWWIPMI_WRITE="{{$.Ipmi.Write.Bool}}"\n' +
  '{{- if $.Ipmi.Tags.vlan }}\nWWIPMI_VLAN="{{$.Ipmi.Tags.vlan}}"\n{{- end }}\n';
const WWCLIENT_WW =
  '#!/bin/sh\n# This file is autogenerated by warewulf\n\n. /warewulf/config\n# Only start if the systemd is not available\ntest -e /usr/lib/systemd/systemd && exit 0\n' +
  'echo "Starting wwclient"\nif [ -r /etc/default/wwclient ]; then . /etc/default/wwclient; fi\nnohup {{ .Paths.WWClientdir }}/wwclient >/var/log/wwclient.log 2>&1 </dev/null &\n';
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const file = (path: string, content: string, mode = 0o644): InstallEntry => ({ path, type: 'file', mode, uid: 0, gid: 0, content: bytes(content) });
const dir = (path: string): InstallEntry => ({ path, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
const wwinit = (extra: InstallEntry[] = [], config = CONFIG_WW): InstallOverlay => ({
  name: 'wwinit',
  entries: [dir('etc'), dir('etc/warewulf'), file('etc/warewulf/warewulf.conf.ww', WW_CONF_WW), file('init', '#!/bin/sh\n', 0o755), dir('warewulf'), file('warewulf/config.ww', config, 0o600), { path: 'warewulf/wwprescripts', type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'run-init' }, ...extra],
});
const DATA = { imageName: 'rocky', id: 'c1', root: 'initramfs', init: '/sbin/init', warewulfConf: 'ipaddr: 10.0.0.1\n' };
const DISPLAY = '/usr/share/warewulf/overlays';
const filesOf = (r: ReturnType<typeof renderInstallOverlay>): readonly OverlayFile[] => {
  if ('problems' in r) throw new Error(r.problems.map((p) => p.message).join('\n'));
  return r.files;
};
const problemsOf = (r: ReturnType<typeof renderInstallOverlay>) => ('problems' in r ? r.problems : []);

describe('renderInstallOverlay', () => {
  it('the inline templates are the pinned 4.6.4 bytes', () => {
    const h = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(TEMPLATE_PINS['4.6.4']).toEqual({
      'wwinit/rootfs/etc/warewulf/warewulf.conf.ww': h(WW_CONF_WW),
      'wwinit/rootfs/warewulf/config.ww': h(CONFIG_WW),
      'wwclient/rootfs/warewulf/init.d/80-wwclient.ww': h(WWCLIENT_WW),
    });
  });

  it('copies plain files, directories and links as installed and renders templates with their mode and owner', () => {
    const files = filesOf(renderInstallOverlay(wwinit(), '4.6.4', DATA, DISPLAY));
    expect(files.map((f) => [f.path, f.type, f.mode.toString(8)])).toEqual([
      ['etc', 'directory', '755'], ['etc/warewulf', 'directory', '755'], ['etc/warewulf/warewulf.conf', 'file', '644'], ['init', 'file', '755'],
      ['warewulf', 'directory', '755'], ['warewulf/config', 'file', '600'], ['warewulf/wwprescripts', 'symlink', '777'],
    ]);
    // Include trims one trailing newline, the template adds it back.
    expect(files.find((f) => f.path === 'etc/warewulf/warewulf.conf')!.content).toBe('ipaddr: 10.0.0.1\n');
    expect(files.find((f) => f.path === 'warewulf/config')!.content).toBe(
      'WWIMAGE=rocky\nWWHOSTNAME=c1\nWWROOT=initramfs\nWWINIT=/sbin/init\nWWIPMI_IPADDR="<nil>"\nWWIPMI_NETMASK="<nil>"\nWWIPMI_GATEWAY="<nil>"\nWWIPMI_USER=""\nWWIPMI_PASSWORD=""\nWWIPMI_WRITE="false"\n',
    );
    expect(files.find((f) => f.path === 'warewulf/wwprescripts')!.target).toBe('run-init');
    const client = filesOf(renderInstallOverlay({ name: 'wwclient', entries: [dir('warewulf'), file('warewulf/80-x', 'x'), dir('warewulf/init.d'), file('warewulf/init.d/80-wwclient.ww', WWCLIENT_WW)] }, '4.6.4', DATA, DISPLAY));
    expect(client.find((f) => f.path === 'warewulf/init.d/80-wwclient')!.content).toContain('nohup /warewulf/wwclient >/var/log/wwclient.log');
  });

  it('a template that is not the release pinned one is an error naming the file and the release', () => {
    const p = problemsOf(renderInstallOverlay(wwinit([], CONFIG_WW + '{{ .BuildHost }}\n'), '4.6.4', DATA, DISPLAY));
    expect(p).toHaveLength(1);
    expect(p[0]!.code).toBe('overlay/template-changed');
    expect(p[0]!.message).toContain('/usr/share/warewulf/overlays/wwinit/rootfs/warewulf/config.ww');
    expect(p[0]!.message).toContain('4.6.4');
    // 4.6.0's config.ww differs (no VLAN line): the 4.6.4 bytes are refused for a 4.6.0 spec.
    expect(problemsOf(renderInstallOverlay(wwinit(), '4.6.0', DATA, DISPLAY)).map((x) => x.message)).toEqual([expect.stringMatching(/config\.ww is not the template Warewulf 4\.6\.0 ships/)]);
  });

  it('an extra template, a missing pinned one, and an unknown release are errors too', () => {
    const extra = problemsOf(renderInstallOverlay(wwinit([file('warewulf/extra.ww', 'x')]), '4.6.4', DATA, DISPLAY));
    expect(extra.map((x) => [x.code, x.message])).toEqual([['overlay/template-changed', expect.stringContaining('warewulf/extra.ww is not a template Warewulf 4.6.4 ships in wwinit')]]);
    const missing = problemsOf(renderInstallOverlay(wwinit(), '4.6.5', DATA, DISPLAY));
    expect(missing.map((x) => x.message)).toEqual([expect.stringContaining('Warewulf 4.6.5 ships /usr/share/warewulf/overlays/wwinit/rootfs/warewulf/init.d/50-ipmi.ww, but the install has none')]);
    const unknown = problemsOf(renderInstallOverlay(wwinit(), '4.7.0' as never, DATA, DISPLAY));
    expect(unknown.map((x) => x.message)).toEqual(["herd does not know Warewulf 4.7.0's templates"]);
    const link = problemsOf(renderInstallOverlay({ name: 'wwinit', entries: [...wwinit().entries.filter((e) => e.path !== 'warewulf/config.ww'), { path: 'warewulf/config.ww', type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: '/etc/shadow' }] }, '4.6.4', DATA, DISPLAY));
    expect(link.map((x) => x.message)).toEqual([expect.stringContaining('config.ww is a symlink')]);
    const clash = problemsOf(renderInstallOverlay(wwinit([file('warewulf/config', 'plain')]), '4.6.4', DATA, DISPLAY));
    expect(clash.map((x) => x.message)).toEqual([expect.stringContaining('both make /warewulf/config')]);
  });

  it('an Include text with a Warewulf file marker is refused (Warewulf would split the output)', () => {
    const p = problemsOf(renderInstallOverlay(wwinit(), '4.6.4', { ...DATA, warewulfConf: 'a: 1\n# {{ /* file "x" */ }}\n' }, DISPLAY));
    expect(p.map((x) => [x.code, x.message])).toEqual([['overlay/template-construct', expect.stringContaining('warewulf.conf.ww: rendered line 2 holds a Warewulf file/softlink marker')]]);
  });

  it('an Include text with a line Warewulf would cut (bufio.Scanner limit) is refused with the line', () => {
    const p = problemsOf(renderInstallOverlay(wwinit(), '4.6.4', { ...DATA, warewulfConf: `a: 1\nb: ${'x'.repeat(70_000)}\n` }, DISPLAY));
    expect(p.map((x) => [x.code, x.message])).toEqual([['overlay/template-construct', expect.stringContaining('warewulf.conf.ww: rendered line 2 is 64 KiB or longer')]]);
  });
});

describe('readInstallOverlay', () => {
  let scratch: string;
  let head: ConfinedDir;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'herd-wwinstall-'));
    head = ConfinedDir.open(scratch, { what: 'head root' });
  });
  afterEach(() => {
    head.close();
    rmSync(scratch, { recursive: true, force: true });
  });
  const base = () => join(scratch, 'usr/share/warewulf/overlays');

  it('reads rootfs/ with modes, owners, contents and links (never followed), in Warewulf walk order', () => {
    const r = join(base(), 'wwinit/rootfs');
    mkdirSync(join(r, 'warewulf/init.d'), { recursive: true });
    writeFileSync(join(r, 'init'), '#!/bin/sh\n');
    chmodSync(join(r, 'init'), 0o755);
    writeFileSync(join(r, 'warewulf/config.ww'), CONFIG_WW);
    chmodSync(join(r, 'warewulf/config.ww'), 0o600);
    writeFileSync(join(r, 'warewulf/init.d/B'), 'b');
    writeFileSync(join(r, 'warewulf/init.d/a'), 'a');
    symlinkSync('/etc/shadow', join(r, 'warewulf/shadow-link'));
    symlinkSync('init.d', join(r, 'warewulf/dir-link'));
    const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwinit');
    if ('missing' in o) throw new Error(o.missing);
    expect(o.root).toBe('wwinit/rootfs');
    expect(o.entries.map((e) => [e.path, e.type, e.mode.toString(8), e.target ?? (e.content ? new TextDecoder().decode(e.content).length : '')])).toEqual([
      ['init', 'file', '755', 10], ['warewulf', 'directory', '755', ''], ['warewulf/config.ww', 'file', '600', CONFIG_WW.length], ['warewulf/dir-link', 'symlink', '777', 'init.d'],
      ['warewulf/init.d', 'directory', '755', ''], ['warewulf/init.d/B', 'file', '644', 1], ['warewulf/init.d/a', 'file', '644', 1], ['warewulf/shadow-link', 'symlink', '777', '/etc/shadow'],
    ]);
    expect(o.entries.every((e) => e.uid === process.getuid!() && e.gid === process.getgid!())).toBe(true);
  });

  it('an overlay without rootfs/ is read from its own folder, as Warewulf does', () => {
    mkdirSync(join(base(), 'wwclient/warewulf'), { recursive: true });
    writeFileSync(join(base(), 'wwclient/warewulf/x'), 'x');
    const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwclient');
    if ('missing' in o) throw new Error(o.missing);
    expect(o.root).toBe('wwclient');
    expect(o.entries.map((e) => e.path)).toEqual(['warewulf', 'warewulf/x']);
  });

  it('no install: missing, with the place looked at', () => {
    const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwinit');
    expect(o).toEqual({ missing: `no Warewulf install at ${join(head.real, 'usr/share/warewulf/overlays/wwinit')} on this machine` });
  });

  it('a FIFO or device is never opened: missing, naming it', () => {
    const r = join(base(), 'wwinit/rootfs');
    mkdirSync(r, { recursive: true });
    execFileSync('mkfifo', [join(r, 'pipe')]);
    const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwinit');
    expect(o).toEqual({ missing: expect.stringMatching(/rootfs\/pipe is a FIFO; herd copies only files, directories and symlinks/) });
  });

  it('caps the number of entries', () => {
    const r = join(base(), 'wwinit/rootfs');
    mkdirSync(r, { recursive: true });
    for (let i = 0; i < 4097; i++) writeFileSync(join(r, `f${i}`), '');
    const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwinit');
    expect(o).toEqual({ missing: expect.stringContaining('has more than 4096 entries') });
  });

  it('an install folder that is a symlink out of the head root is not followed', () => {
    const outside = mkdtempSync(join(tmpdir(), 'herd-wwinstall-out-'));
    try {
      mkdirSync(join(outside, 'wwinit/rootfs'), { recursive: true });
      mkdirSync(base(), { recursive: true });
      symlinkSync(join(outside, 'wwinit'), join(base(), 'wwinit'));
      const o = readInstallOverlay(head, '/usr/share/warewulf/overlays', 'wwinit');
      expect(o).toEqual({ missing: expect.stringContaining('leaves the head root') });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
