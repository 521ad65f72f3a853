// Shape errors do not hide semantic ones: a spec with both reports both in one run, and nothing that follows only from a neutralised value.
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A small spec with two nodes sharing one MAC (a semantic error that must always be reported); `patch` rewrites parts of it. */
function spec(patch: (text: string) => string = (t) => t): string {
  return patch(`apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: head, address: 10.0.0.1 }
network:
  cidr: 10.0.0.0/24
  interface: eth0
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged] }
defaults:
  image: img
nodes:
  c1: { mac: "52:54:00:aa:00:01", address: 10.0.0.2 }
  c2: { mac: "52:54:00:aa:00:01", address: 10.0.0.3 }
slurm:
  partitions:
    normal: { nodes: "c[1-2]", default: true }
`);
}

const rules = (text: string): string[] => checkSpec('cluster.yaml', text, () => ({ overlayFiles: {} })).diagnostics.map((d) => `${d.rule} ${d.line}:${d.column}`);

describe('reporting shape and semantic errors in one run', () => {
  it('finds the duplicate MAC in the baseline', () => {
    expect(rules(spec())).toEqual(['net/duplicate-mac 14:14']);
  });

  it('reads a misspelt required key as meant: no "missing" twin, and the rest is still checked', () => {
    expect(rules(spec((t) => t.replace('  interface: eth0', '  interfce: eth0')))).toEqual(['schema/unknown-key 7:3', 'net/duplicate-mac 14:14']);
  });

  it('reports a wrong value behind a misspelt key now, at the value as written', () => {
    expect(rules(spec((t) => t.replace('address: 10.0.0.3', 'adress: 7')))).toEqual(['net/duplicate-mac 14:14', 'schema/unknown-key 14:35', 'schema/wrong-type 14:43']);
  });

  it('removes a wrong value outside any collection and still checks the nodes', () => {
    expect(rules(spec((t) => t.replace('  interface: eth0', '  interface: eth0\n  mtu: big')))).toEqual(['schema/wrong-type 8:8', 'net/duplicate-mac 15:14']);
  });

  it('reports no "missing" follow-on for a node whose value was removed', () => {
    expect(rules(spec((t) => t.replace('address: 10.0.0.2', 'address: { a: 1 }')))).toEqual(['schema/wrong-type 13:44', 'net/duplicate-mac 14:14']);
  });

  it('reports no "has no image" on every node when the default image is the wrong type', () => {
    expect(rules(spec((t) => t.replace('  image: img', '  image: [img]')))).toEqual(['schema/wrong-type 11:10', 'net/duplicate-mac 14:14']);
  });

  it('does not call a node whose entry had to be dropped unknown in a partition', () => {
    // An entry that is not a map cannot be read at all, but the partition naming c3 is not wrong.
    expect(rules(spec((t) => t.replace('nodes:\n', 'nodes:\n  c3: "52:54:00:aa:00:03"\n').replace('c[1-2]', 'c[1-3]')))).toEqual(['schema/wrong-type 13:7', 'net/duplicate-mac 15:14']);
  });

  it('gives up on the semantic checks only when a required part cannot be read at all', () => {
    expect(rules(spec((t) => t.replace('cidr: 10.0.0.0/24', 'cidr: 24')))).toEqual(['schema/wrong-type 6:9']);
  });

  it('still refuses to interpret a spec of another apiVersion', () => {
    expect(rules(spec((t) => t.replace('herd.dev/v1alpha1', 'herd.dev/v9')))).toEqual(['schema/unsupported-version 1:13']);
  });
});
