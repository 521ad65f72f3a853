// npm run bench: every benchmark, each printing its budget as ratios against a reference measured in the same run.
import { benchValidate } from './validate.ts';

benchValidate();
