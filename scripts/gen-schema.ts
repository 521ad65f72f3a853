// Regenerates the published schemas from their zod sources of truth (test/unit/docs-fresh.test.ts fails when a committed copy is stale):
// schema/cluster.schema.json, and the plan JSON Schema block in docs/plan-json.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { planOutputSchema } from '../src/plan/plan-json.ts';
import { renderClusterJsonSchema } from '../src/spec/json-schema.ts';

export const CLUSTER_SCHEMA_FILE = new URL('../schema/cluster.schema.json', import.meta.url);
export const PLAN_JSON_DOC = new URL('../docs/plan-json.md', import.meta.url);

/** docs/plan-json.md with its generated block replaced by the schema of today's planOutputSchema. Pure. */
export function renderPlanJsonDoc(current: string): string {
  const [head, rest] = current.split('<!-- BEGIN GENERATED SCHEMA -->');
  const tail = rest!.split('<!-- END GENERATED SCHEMA -->')[1];
  const block = '```json\n' + JSON.stringify(z.toJSONSchema(planOutputSchema, { io: 'output' }), null, 2) + '\n```\n';
  return `${head}<!-- BEGIN GENERATED SCHEMA -->\n${block}<!-- END GENERATED SCHEMA -->${tail}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CLUSTER_SCHEMA_FILE, renderClusterJsonSchema());
  console.log(`wrote ${CLUSTER_SCHEMA_FILE.pathname}`);
  writeFileSync(PLAN_JSON_DOC, renderPlanJsonDoc(readFileSync(PLAN_JSON_DOC, 'utf8')));
  console.log(`wrote ${PLAN_JSON_DOC.pathname}`);
}
