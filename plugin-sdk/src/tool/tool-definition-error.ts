/**
 * Thrown by `defineTool` (and by `build`) when a definition cannot become a
 * valid tool. `field` names the option at fault, e.g. "version" or "input".
 */
export class ToolDefinitionError extends Error {
  override readonly name = 'ToolDefinitionError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}
