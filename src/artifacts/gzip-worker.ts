// Source of the worker thread that deflates blocks for gzip-parallel.ts (pure: the worker only compresses bytes in shared memory).
//
// It is a JavaScript string run with `new Worker(src, { eval: true })` rather than a module path, because a `.ts`
// worker file needs a TypeScript loader in the worker, and that differs between `node --import tsx`, vitest and the
// compiled dist/ build; an eval'd CommonJS script runs the same in all three.
//
// Memory: input and output live in two SharedArrayBuffers split into slots (workerData), so no buffer is allocated
// or transferred per block; a transfer per block made the calling thread's V8 heap run a full GC every ~64 MiB.
// Protocol: in  { seq, slot, dictLen, dataLen, last, level }: input slot holds [dictionary][data];
//           out { seq, len } (deflate bytes in output slot `slot`), { seq, len, big: ArrayBuffer } if they do not
//               fit the slot, or { seq, error: string }.
// Every non-last block ends with a sync flush (byte-aligned, ends in 00 00 ff ff) so blocks concatenate; the last
// ends with Z_FINISH. The dictionary is the 32 KiB of input before the block, so matches may reach back across it.
export const GZIP_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const input = new Uint8Array(workerData.input);
const output = new Uint8Array(workerData.output);
const { slotIn, slotOut } = workerData;
parentPort.on('message', (m) => {
  try {
    const base = m.slot * slotIn;
    const opts = { level: m.level, finishFlush: m.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (m.dictLen > 0) opts.dictionary = input.subarray(base, base + m.dictLen);
    const out = zlib.deflateRawSync(input.subarray(base + m.dictLen, base + m.dictLen + m.dataLen), opts);
    if (out.length <= slotOut) {
      output.set(out, m.slot * slotOut);
      parentPort.postMessage({ seq: m.seq, len: out.length });
    } else {
      const big = new Uint8Array(out);
      parentPort.postMessage({ seq: m.seq, len: out.length, big: big.buffer }, [big.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ seq: m.seq, error: String(err && err.stack || err) });
  }
});
`;
