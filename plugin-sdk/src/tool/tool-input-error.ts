/**
 * Thrown by a tool that refuses its input (a formula it cannot parse, an
 * unknown city): the call fails with INVALID_ARGUMENT (reason
 * INVALID_TOOL_INPUT) instead of INTERNAL, so the caller, often a model,
 * knows to fix its arguments, and it is never retried. Any other error a
 * tool throws stays the tool's own failure (INTERNAL, TOOL_ERROR).
 */
export class ToolInputError extends Error {
  override readonly name: string = 'ToolInputError';
  /**
   * What the sandbox maps to INVALID_ARGUMENT. Not 'INVALID_ARGUMENT' itself:
   * that code marks the sandbox's own refusals of a tool's bridge calls,
   * which are the tool's bug (INTERNAL) when it lets them through.
   */
  readonly code = 'INVALID_TOOL_INPUT';
  /** The input field at fault, when there is one. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}
