// `herd explain <rule>` (I/O shell): print why a rule exists, with the trap behind it.
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { ALL_RULES as RULES } from '../../diagnostics/rule-catalog.ts';
import { didYouMean } from '../../spec/did-you-mean.ts';

export const command: Command = {
  name: 'explain',
  summary: 'explain a validation rule and the trap behind it',
  usage: '<rule-id> | --list',
  options: { list: { type: 'boolean' } },
  async run(args, ctx) {
    if (args.values.list) {
      const ids = Object.keys(RULES).sort();
      if (ctx.format === 'json') ctx.io.stdout.write(JSON.stringify(RULES, null, 2) + '\n');
      else ctx.io.stdout.write(ids.map((id) => `${id.padEnd(32)} ${RULES[id]!.summary}`).join('\n') + '\n');
      return EXIT.ok;
    }
    const id = args.positionals[0];
    if (!id) {
      ctx.io.stderr.write('herd explain: name a rule, e.g. herd explain net/duplicate-mac (or --list)\n');
      return EXIT.couldNotRun;
    }
    const doc = RULES[id];
    if (!doc) {
      const guess = didYouMean(id, Object.keys(RULES));
      ctx.io.stderr.write(`herd explain: no rule "${id}"${guess ? ` (did you mean ${guess}?)` : ''}; herd explain --list shows them all\n`);
      return EXIT.couldNotRun;
    }
    if (ctx.format === 'json') ctx.io.stdout.write(JSON.stringify({ rule: id, ...doc }, null, 2) + '\n');
    else ctx.io.stdout.write(`${id}: ${doc.summary}\n\n${doc.rationale}\n`);
    return EXIT.ok;
  },
};
