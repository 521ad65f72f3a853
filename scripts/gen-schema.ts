// Regenerates schema/cluster.schema.json from the zod source of truth (a test fails when the committed file is stale).
import { writeFileSync } from 'node:fs';
import { renderClusterJsonSchema } from '../src/spec/json-schema.ts';

const out = new URL('../schema/cluster.schema.json', import.meta.url);
writeFileSync(out, renderClusterJsonSchema());
console.log(`wrote ${out.pathname}`);
