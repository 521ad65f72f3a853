// A minimal valid cluster (head, /24 network, one image) with the given nodes/defaults/slurm YAML appended, resolved to its model.
import { checkSpec } from '../../../src/spec/check-spec.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';

export function miniModel(rest: string): ClusterModel {
  const text = `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: h, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images: { i: { source: "oci:x" } }
${rest}`;
  const r = checkSpec('x.yaml', text, () => ({ overlayFiles: {} }));
  if (!r.model) throw new Error(`mini spec did not resolve: ${JSON.stringify(r.diagnostics)}`);
  return r.model;
}
