import type { ElixirError } from '@elixirchain/runtime';

/** A step ended the run's progress: the error and the path of the step that raised it. */
export class StepFailure extends Error {
  constructor(readonly path: string, readonly error: ElixirError) {
    super(`${path}: ${error.message}`);
    this.name = 'StepFailure';
  }
}

/**
 * A non-idempotent tool step was started before a crash and has no recorded
 * outcome: re-running it could do its effect twice, so the run pauses for a
 * person (or a client) to check and ResumeRun.
 */
export class StepOutcomeUnknown extends StepFailure {
  override name = 'StepOutcomeUnknown';
}
