// herd's one exit-code table (pure), shared by every command so CI scripts read them alike.

export const EXIT = {
  /** Success: spec valid (warnings allowed), plan has no changes, apply done. */
  ok: 0,
  /** Finished with error diagnostics (invalid spec), or apply failed with nothing changed. */
  findings: 1,
  /** Changes or drift present: only from `herd plan --detailed-exitcode`. */
  changes: 2,
  /** Could not run: usage error, unreadable input, lock held, stale saved plan, consent missing. */
  couldNotRun: 3,
  /** Internal bug: please report. */
  internal: 70,
  /** Interrupted. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_TABLE_TEXT = `Exit codes (every command):
  0    success (spec valid, warnings allowed; plan has no changes; apply done)
  1    finished with error diagnostics (invalid spec), or apply failed with nothing changed
  2    changes or drift present (only herd plan --detailed-exitcode)
  3    could not run: usage error, unreadable input, lock held, stale saved plan, consent missing
  70   internal error (a bug in herd: please report it)
  130  interrupted`;
