// What a semantic rule sees (pure): the shape-valid spec, its positions and the resolved model.
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { ClusterModel } from '../model.ts';
import type { PositionIndex } from '../positions.ts';
import type { ClusterSpec } from '../schema.ts';

export interface RuleContext {
  readonly spec: ClusterSpec;
  readonly model: ClusterModel;
  readonly index: PositionIndex;
}

export type RuleCheck = (ctx: RuleContext) => Diagnostic[];
