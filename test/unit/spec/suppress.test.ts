// `# herd-ignore: rule/id reason` through the whole front end: what it silences, where, and what it refuses to silence.
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** c2 reuses c1's MAC (net/duplicate-mac on c2's line) unless `c2mac` says otherwise; `before`/`after` wrap c2's line. */
function spec(opts: { before?: string; trailing?: string; c2mac?: string; extraTop?: string } = {}): string {
  return [
    'apiVersion: herd.dev/v1alpha1',
    'kind: Cluster',
    'name: t',
    'head: { name: head, address: 10.0.0.1 }',
    'network: { cidr: 10.0.0.0/24, interface: eth0 }',
    'images:',
    `  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged] }`,
    ...(opts.extraTop ? [opts.extraTop] : []),
    'defaults: { image: img }',
    'nodes:',
    '  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2 }',
    ...(opts.before !== undefined ? [opts.before] : []),
    `  c2: { mac: "${opts.c2mac ?? '52:54:00:00:00:01'}", address: 10.0.0.3 }${opts.trailing ?? ''}`,
    '',
  ].join('\n');
}

const rules = (text: string): string[] => checkSpec('cluster.yaml', text, () => ({ overlayFiles: {} })).diagnostics.map((d) => `${d.rule}@${d.line}`);

describe('herd-ignore', () => {
  it('the unsuppressed spec reports the duplicate MAC on c2\'s line', () => {
    expect(rules(spec())).toEqual(['net/duplicate-mac@11']);
  });

  it('silences a rule from the line above', () => {
    const r = checkSpec('cluster.yaml', spec({ before: '  # herd-ignore: net/duplicate-mac both are one bonded NIC' }), () => ({ overlayFiles: {} }));
    expect(r.diagnostics).toEqual([]);
    expect(r.model).toBeDefined();
  });

  it('silences a rule from a trailing comment on the same line', () => {
    expect(rules(spec({ trailing: '  # herd-ignore: net/duplicate-mac lab VMs share a NIC' }))).toEqual([]);
  });

  it('does not reach two lines down', () => {
    expect(rules(spec({ before: '  # herd-ignore: net/duplicate-mac reason given\n  c3: { mac: "52:54:00:00:00:03", address: 10.0.0.4 }' }))).toEqual(['spec/unused-ignore@11', 'net/duplicate-mac@13']);
  });

  it('silences only the named rule, and reports the comment as unused', () => {
    expect(rules(spec({ before: '  # herd-ignore: net/duplicate-address wrong rule' }))).toEqual(['spec/unused-ignore@11', 'net/duplicate-mac@12']);
  });

  it('refuses an ignore without a reason, and does not silence with it', () => {
    expect(rules(spec({ before: '  # herd-ignore: net/duplicate-mac' }))).toEqual(['spec/ignore-without-reason@11', 'net/duplicate-mac@12']);
    expect(rules(spec({ before: '  # herd-ignore:', c2mac: '52:54:00:00:00:02' }))).toEqual(['spec/ignore-without-reason@11']);
  });

  it('cannot silence schema or YAML problems: the file must at least be readable', () => {
    expect(rules(spec({ extraTop: 'colour: blue  # herd-ignore: schema/unknown-key we like colour', c2mac: '52:54:00:00:00:02' }))).toEqual(['schema/unknown-key@8', 'spec/unused-ignore@8']);
  });
});
