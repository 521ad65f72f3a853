// Generated files must match their generators: each is regenerated in memory and compared with the committed copy.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderClusterJsonSchema } from '../../src/spec/json-schema.ts';
import { CLUSTER_SCHEMA_FILE, PLAN_JSON_DOC, renderPlanJsonDoc } from '../../scripts/gen-schema.ts';
import { PLAN_SAMPLE_DOC, renderPlanSample } from '../../scripts/gen-plan-sample.ts';

const STALE = 'is stale: run npm run gen:docs';

describe('generated docs are fresh', () => {
  it('schema/cluster.schema.json', () => {
    expect(readFileSync(CLUSTER_SCHEMA_FILE, 'utf8') === renderClusterJsonSchema(), `schema/cluster.schema.json ${STALE}`).toBe(true);
  });

  it('docs/plan-json.md', () => {
    const committed = readFileSync(PLAN_JSON_DOC, 'utf8');
    expect(renderPlanJsonDoc(committed) === committed, `docs/plan-json.md ${STALE}`).toBe(true);
  });

  it('docs/plan-sample.md', async () => {
    const committed = readFileSync(PLAN_SAMPLE_DOC, 'utf8');
    expect((await renderPlanSample()) === committed, `docs/plan-sample.md ${STALE}`).toBe(true);
  });
});
