// Specs past the node limit are refused before any node is made: 50 entries of a million names each must not be expanded (that would need gigabytes).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';

const FIXTURE = readFileSync(new URL('../../golden/validate/node/too-many-nodes/cluster.yaml', import.meta.url), 'utf8');

describe('the node limit', () => {
  it('refuses 50 million nodes at the entry that passes the limit, without reading the inventory or making a node', () => {
    const entries = Array.from({ length: 50 }, (_, i) => `  g${i}r[01-20]n[00001-50000]: { profiles: [compute], address: 10.1.0.1 }`).join('\n');
    const text = FIXTURE.replace(/^nodes:\n(?:  .*\n)+/m, `nodes:\n${entries}\n  login1: { profiles: [compute], mac: "52:54:00:aa:00:01", address: 10.0.0.2 }\n`);
    let auxRead = false;
    const r = checkSpec('cluster.yaml', text, () => {
      auxRead = true;
      return { overlayFiles: {} };
    });
    expect(auxRead).toBe(false);
    expect(r.model).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.rule, d.line, d.column])).toEqual([['node/too-many-nodes', 32, 3]]);
    expect(r.diagnostics[0]!.message).toContain('define 50000001 nodes');
    expect(r.diagnostics[0]!.message).toContain('"g1r[01-20]n[00001-50000]" takes the count past it');
  });
});
