// herd's one exit-code table (pure), shared by every command so CI scripts read them alike.

export const EXIT = {
  /** Success: spec valid (warnings allowed), plan has no changes, apply done. */
  ok: 0,
  /** Finished with error diagnostics: the spec is invalid (boot-test: a node failed or the Slurm job did not run; rollout: a node did not come back). */
  findings: 1,
  /** Changes or drift present: only from `herd plan --detailed-exitcode`. */
  changes: 2,
  /** Could not run: usage error, unreadable input, lock held, stale saved plan, consent missing. */
  couldNotRun: 3,
  /** apply failed before changing anything on the target (disk full while staging, a producer failed): safe to fix and retry. */
  applyFailed: 4,
  /** apply failed after changing some files: each file is whole (old or new); herd plan shows what is left. */
  partial: 5,
  /** Internal bug: please report. */
  internal: 70,
  /** Interrupted. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_TABLE_TEXT = `Exit codes (every command):
  0    success (spec valid, warnings allowed; plan has no changes; apply done)
  1    finished with error diagnostics (invalid spec; herd boot-test: a node failed or the job did not run; herd rollout: a node did not come back)
  2    changes, drift or pending artifacts present (only herd plan --detailed-exitcode)
  3    could not run: usage error, unreadable input, unsafe path, lock held, stale saved plan, consent missing
  4    apply failed before changing anything on the target
  5    apply failed part-way: the files it names were changed (each whole); run herd plan
  70   internal error (a bug in herd: please report it)
  130  interrupted (Ctrl-C or SIGTERM): unfinished temporary files removed, one line says what was kept`;
