import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import { miniModel } from './mini-spec.ts';
import { renderNodesConf } from '../../../src/compile/nodes-conf.ts';
import { KERNEL_KEYS, netdevKeys, NODE_ONLY_KEYS, PROFILE_KEYS } from '../../../src/compile/warewulf-keys.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';

const root = new URL('../../../', import.meta.url).pathname;
const lab = loadSpecFromDisk('clusters/lab', root).model!;
const condo = loadSpecFromDisk('clusters/condo', root).model!;

/** Reimplements Warewulf's merge (profiles in order, scalars last-wins, lists concatenated, maps by key) as an oracle. */
function mergeLikeWarewulf(conf: any, node: string): any {
  const n = conf.nodes[node];
  const layers = [...(n.profiles ?? []).map((p: string) => conf.nodeprofiles[p]), n];
  const merge = (a: any, b: any): any => {
    if (Array.isArray(b)) return [...(Array.isArray(a) ? a : []), ...b];
    if (b && typeof b === 'object') {
      const out = { ...(a ?? {}) };
      for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
      return out;
    }
    return b;
  };
  let out: any = {};
  for (const l of layers) {
    const { profiles, comment, ...rest } = l ?? {};
    out = merge(out, rest);
  }
  return out;
}

function checkKeys(model: ClusterModel, text: string): void {
  const conf = parse(text);
  expect(Object.keys(conf).sort()).toEqual(['nodeprofiles', 'nodes']);
  const nd = netdevKeys(model.warewulf.version);
  const check = (obj: any, allowed: string[]): void => {
    for (const [k, v] of Object.entries(obj)) {
      expect(allowed, `key "${k}"`).toContain(k);
      if (k === 'kernel') for (const kk of Object.keys(v as object)) expect(KERNEL_KEYS).toContain(kk);
      if (k === 'network devices') for (const dev of Object.values(v as object)) for (const kk of Object.keys(dev as object)) expect(nd, `netdev key ${kk}`).toContain(kk);
    }
  };
  for (const p of Object.values(conf.nodeprofiles)) check(p, PROFILE_KEYS);
  for (const n of Object.values(conf.nodes)) check(n, [...PROFILE_KEYS, ...NODE_ONLY_KEYS]);
}

describe('nodes.conf', () => {
  it('emits only keys Warewulf 4.6 reads', () => {
    checkKeys(lab, renderNodesConf(lab, ''));
    checkKeys(condo, renderNodesConf(condo, ''));
  });

  it('gives every node, after Warewulf-style merging, exactly its resolved settings', () => {
    for (const model of [lab, condo]) {
      const conf = parse(renderNodesConf(model, ''));
      for (const n of model.nodes) {
        const m = mergeLikeWarewulf(conf, n.name);
        expect(conf.nodes[n.name].profiles[0]).toBe('default');
        expect(m['image name']).toBe(n.image);
        expect(m['system overlay']).toEqual(n.systemOverlays);
        expect(m['runtime overlay']).toEqual(n.runtimeOverlays);
        expect(m['network devices'].default.hwaddr).toBe(n.mac);
        expect(m['network devices'].default.ipaddr).toBe(n.address);
        // the blank-netmask trap: every netdev with an address has a dotted netmask
        expect(m['network devices'].default.netmask).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect(m.kernel.args).toEqual(model.images[n.image]!.kernel.args);
      }
    }
  });

  it('factors shared settings into profiles instead of repeating them per node', () => {
    const text = renderNodesConf(condo, '');
    const conf = parse(text);
    expect(conf.nodeprofiles.cpu['image name']).toBe('rocky10-cpu');
    expect(conf.nodeprofiles.gpu['image name']).toBe('rocky10-gpu');
    expect(conf.nodes.cpu001['image name']).toBeUndefined();
    expect(Object.keys(conf.nodes.cpu001).sort()).toEqual(['network devices', 'profiles', 'tags']);
  });

  it('quotes MACs and writes lower case', () => {
    const model = miniModel(`nodes:
  n1: { image: i, mac: "52:54:00:00:00:0A", address: 10.0.0.5 }
`);
    expect(renderNodesConf(model, '')).toContain('hwaddr: "52:54:00:00:00:0a"');
  });

  it('is deterministic', () => {
    expect(renderNodesConf(condo, '')).toBe(renderNodesConf(loadSpecFromDisk('clusters/condo', root).model!, ''));
  });
});

describe('export-only NFS paths (nfs.<path>.mount: false)', () => {
  it('are exported by the head (exports and warewulf.conf) but mounted on no node (no fstab resource entry)', async () => {
    const { compileConfig } = await import('../../../src/compile/compile-cluster.ts');
    // No mounted path: the image need not carry mount.nfs (image/missing-nfs-client would refuse this spec otherwise).
    const m = miniModel(`nfs:\n  /srv/home: { mount: false }\n  /srv/scratch: { mount: false, export_options: "rw,async" }\nnodes:\n  c1: { image: i, mac: "52:54:00:00:00:01", address: 10.0.0.2 }\n`);
    expect(m.nfs).toEqual([]);
    expect(m.exports.map((x) => x.mountPoint)).toEqual(['/srv/home', '/srv/scratch']);
    const text = (p: string): string => new TextDecoder().decode(compileConfig(m, { specDisplayPath: 'x.yaml' }).find((a) => a.path === p)!.bytes!);
    expect(text('etc/exports')).toContain('/srv/scratch 10.0.0.0/24(rw,async)\n');
    expect(text('etc/exports')).toContain('/srv/home 10.0.0.0/24(rw,sync,no_subtree_check)\n');
    expect(parse(text('etc/warewulf/warewulf.conf')).nfs['export paths']).toEqual([{ path: '/srv/home', 'export options': 'rw,sync,no_subtree_check' }, { path: '/srv/scratch', 'export options': 'rw,async' }]);
    const conf = parse(renderNodesConf(m, ''));
    expect(JSON.stringify(conf)).not.toContain('/srv/');
    expect(JSON.stringify(conf)).not.toContain('"resources"');
  });
});
