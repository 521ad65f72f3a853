import { generateRangedSpec } from './validate.ts';
import { checkSpec } from '../src/spec/check-spec.ts';
import { compileCluster } from '../src/compile/compile-cluster.ts';
const g = generateRangedSpec(10000);
const aux = () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } });
let m;
for (let i = 0; i < 3; i++) m = checkSpec('x', g.spec, aux).model;
for (let i = 0; i < 3; i++) compileCluster(m!, { specDisplayPath: 'x' });
