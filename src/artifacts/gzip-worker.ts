// Source of the worker thread that deflates one block for gzip-parallel.ts (pure: the worker only compresses the bytes it is sent).
//
// It is a JavaScript string run with `new Worker(src, { eval: true })` rather than a module path, because a `.ts`
// worker file needs a TypeScript loader in the worker, and that differs between `node --import tsx`, vitest and the
// compiled dist/ build; an eval'd CommonJS script runs the same in all three.
//
// Protocol: in  { seq, buf: ArrayBuffer, dictLen, dataLen, last, level } where buf holds [dictionary][data];
//           out { seq, out: ArrayBuffer, buf } (the raw deflate bytes, and the input buffer handed back for reuse)
//               or { seq, error: string }.
// Every non-last block ends with a sync flush (byte-aligned, ends in 00 00 ff ff) so blocks concatenate; the last
// ends with Z_FINISH. The dictionary is the 32 KiB of input before the block, so matches may reach back across it.
export const GZIP_WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', (m) => {
  try {
    const all = new Uint8Array(m.buf);
    const opts = { level: m.level, finishFlush: m.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (m.dictLen > 0) opts.dictionary = all.subarray(0, m.dictLen);
    let out = zlib.deflateRawSync(all.subarray(m.dictLen, m.dictLen + m.dataLen), opts);
    // Small results may live in Buffer's shared pool; transferring that ArrayBuffer would detach the pool.
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = new Uint8Array(out);
    parentPort.postMessage({ seq: m.seq, out: out.buffer, buf: m.buf }, [out.buffer, m.buf]);
  } catch (err) {
    parentPort.postMessage({ seq: m.seq, error: String(err && err.stack || err) });
  }
});
`;
