import { ToolDefinitionError } from '../tool/tool-definition-error.js';

/** A failure the CLI reports as one line and a non-zero exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: { exitCode?: number; details?: Record<string, unknown> } = {}) {
    super(message);
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details ?? {};
  }
}

/**
 * Human output goes to stderr as short steps ("building… done in 120 ms"),
 * so stdout carries only the command's result; with --json, stdout gets
 * exactly one JSON document and steps are silent.
 */
export class CliOutput {
  readonly json: boolean;
  private readonly stderr: NodeJS.WritableStream;
  private readonly stdout: NodeJS.WritableStream;

  constructor(options: { json: boolean; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }) {
    this.json = options.json;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
  }

  /** Runs one long step, printing when it starts and how long it took. */
  async step<T>(label: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    if (!this.json) this.stderr.write(`• ${label}…\n`);
    try {
      const value = await work();
      if (!this.json) this.stderr.write(`  ✓ ${label} (${formatMs(performance.now() - started)})\n`);
      return value;
    } catch (error) {
      if (!this.json) this.stderr.write(`  ✗ ${label} (${formatMs(performance.now() - started)})\n`);
      throw error;
    }
  }

  /** A line of progress for a human; nothing in --json mode. */
  info(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  /** The command's result: JSON on stdout with --json, otherwise the human lines given. */
  result(value: Record<string, unknown>, lines: string[]): void {
    if (this.json) this.stdout.write(`${JSON.stringify({ ok: true, ...value })}\n`);
    else for (const line of lines) this.stdout.write(`${line}\n`);
  }

  /** Reports a failure in one line (or one JSON document) and returns the exit code. */
  failure(error: unknown): number {
    const { message, details, exitCode } = describeFailure(error);
    if (this.json) this.stdout.write(`${JSON.stringify({ ok: false, error: { message, ...details } })}\n`);
    else this.stderr.write(`elixirchain-tool: ${message}\n`);
    return exitCode;
  }
}

function describeFailure(error: unknown): { message: string; details: Record<string, unknown>; exitCode: number } {
  if (error instanceof CliError) return { message: oneLine(error.message), details: error.details, exitCode: error.exitCode };
  if (error instanceof ToolDefinitionError) return { message: oneLine(error.message), details: { field: error.field, kind: 'definition' }, exitCode: 1 };
  if (error instanceof Error) {
    const extra: Record<string, unknown> = {};
    for (const key of ['code', 'reason', 'problems', 'fieldViolations'] as const) {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (value !== undefined && !(Array.isArray(value) && value.length === 0)) extra[key] = value;
    }
    return { message: oneLine(error.message), details: extra, exitCode: 1 };
  }
  return { message: oneLine(String(error)), details: {}, exitCode: 1 };
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
