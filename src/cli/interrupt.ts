// Ctrl-C and SIGTERM during a long command (I/O shell): remove this run's unfinished temporary folders, say in one line what was kept, exit 130.
import { EXIT } from './exit-codes.ts';
import type { CliIO } from './io.ts';
import { removeTrackedTemps } from '../fs/temp-registry.ts';

type Signal = 'SIGINT' | 'SIGTERM';

/** The process seams, injectable so a test can raise a signal without ending the test runner. */
export interface SignalHooks {
  on(signal: Signal, handler: () => void): void;
  off(signal: Signal, handler: () => void): void;
  exit(code: number): void;
}

const processHooks: SignalHooks = {
  on: (s, h) => process.on(s, h),
  off: (s, h) => process.off(s, h),
  exit: (code) => process.exit(code),
};

/**
 * Until the returned function is called, SIGINT or SIGTERM ends the command at once: every temporary path registered
 * with trackTemp is removed (synchronously, since no await would resume), one line names what `kept` and the process
 * exits EXIT.interrupted. Exiting from the handler is deliberate: an image build may be deep in a gzip pipeline whose
 * workers would otherwise finish first, and the user asked for the prompt stop Ctrl-C promises.
 */
export function exitOnInterrupt(command: string, kept: string, io: Pick<CliIO, 'stderr'>, hooks: SignalHooks = processHooks): () => void {
  const handler = (signal: Signal) => (): void => {
    release();
    const removed = removeTrackedTemps();
    const cleaned = removed.length === 0 ? '' : `; removed ${removed.length} unfinished temporary ${removed.length === 1 ? 'folder' : 'folders'}`;
    io.stderr.write(`herd ${command}: interrupted (${signal}); ${kept}${cleaned}\n`);
    hooks.exit(EXIT.interrupted);
  };
  const onInt = handler('SIGINT');
  const onTerm = handler('SIGTERM');
  hooks.on('SIGINT', onInt);
  hooks.on('SIGTERM', onTerm);
  let released = false;
  function release(): void {
    if (released) return;
    released = true;
    hooks.off('SIGINT', onInt);
    hooks.off('SIGTERM', onTerm);
  }
  return release;
}
