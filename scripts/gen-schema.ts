// Regenerates the published schemas from their zod sources of truth (tests fail when a committed copy is stale):
// schema/cluster.schema.json, and the plan JSON Schema block in docs/plan-json.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { planOutputSchema } from '../src/plan/plan-json.ts';
import { renderClusterJsonSchema } from '../src/spec/json-schema.ts';

const out = new URL('../schema/cluster.schema.json', import.meta.url);
writeFileSync(out, renderClusterJsonSchema());
console.log(`wrote ${out.pathname}`);

const doc = new URL('../docs/plan-json.md', import.meta.url);
const [head, rest] = readFileSync(doc, 'utf8').split('<!-- BEGIN GENERATED SCHEMA -->');
const tail = rest!.split('<!-- END GENERATED SCHEMA -->')[1];
const block = '```json\n' + JSON.stringify(z.toJSONSchema(planOutputSchema, { io: 'output' }), null, 2) + '\n```\n';
writeFileSync(doc, `${head}<!-- BEGIN GENERATED SCHEMA -->\n${block}<!-- END GENERATED SCHEMA -->${tail}`);
console.log(`wrote ${doc.pathname}`);
