// JSON Schema of the spec, generated from zod (pure): the published editor/CI contract.
import { z } from 'zod';
import { clusterSchema } from './schema.ts';

export const SCHEMA_ID = 'https://herd.dev/schema/cluster.schema.json';

export function clusterJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(clusterSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as Record<string, unknown>;
  return { ...s, $id: SCHEMA_ID, title: 'herd cluster spec' };
}

export function renderClusterJsonSchema(): string {
  return JSON.stringify(clusterJsonSchema(), null, 2) + '\n';
}
