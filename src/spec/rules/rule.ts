// What a semantic rule sees (pure): the shape-valid spec, its positions and the resolved model.
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { ClusterModel } from '../model.ts';
import type { PositionIndex } from '../positions.ts';
import type { ClusterSpec, NodeSettingsSpec } from '../schema.ts';

export interface RuleContext {
  readonly spec: ClusterSpec;
  readonly model: ClusterModel;
  readonly index: PositionIndex;
}

export type RuleCheck = (ctx: RuleContext) => Diagnostic[];

/** The layers node settings are written on, each with its spec path: defaults, every profile, every node entry. */
export function settingsLayers(spec: ClusterSpec): [(string | number)[], NodeSettingsSpec | undefined][] {
  const layers: [(string | number)[], NodeSettingsSpec | undefined][] = [[['defaults'], spec.defaults]];
  for (const [n, p] of Object.entries(spec.profiles ?? {})) layers.push([['profiles', n], p]);
  for (const [n, e] of Object.entries(spec.nodes)) layers.push([['nodes', n], e]);
  return layers;
}
