// Build progress on a terminal (I/O shell): one self-overwriting line (layers, files, bytes, rate); silent in CI, in JSON and when stderr is not a TTY.
import type { CommandContext } from './io.ts';
import type { BuildProgress } from '../image/build/build-image.ts';

export function progressReporter(ctx: CommandContext): ((e: BuildProgress) => void) | undefined {
  const tty = Boolean((ctx.io.stderr as { isTTY?: boolean }).isTTY);
  if (!tty || ctx.format !== 'text' || ctx.io.env.CI) return undefined;
  const started = Date.now();
  let last = 0;
  return (e) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    const secs = Math.max(0.001, (now - started) / 1000);
    const line =
      e.phase === 'layer'
        ? `${e.image}: layer ${e.index + 1}/${e.count}${e.fromCache ? ' (cached)' : ''}, ${e.files} files`
        : `${e.image}: packing ${e.files} files, ${(e.bytes / 1048576).toFixed(0)} MiB, ${(e.bytes / 1048576 / secs).toFixed(0)} MiB/s`;
    ctx.io.stderr.write(`\r\u001b[2K${line}`);
  };
}
