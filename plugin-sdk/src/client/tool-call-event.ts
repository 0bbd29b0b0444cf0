import type { ToolCallError } from './tool-call-error.js';

/** One event of a tool call's stream, as the CLI and the test harness report it. */
export type ToolCallEvent =
  | { type: 'started'; sequence: number; callId: string; toolVersion: string; attempt: number }
  | { type: 'progress'; sequence: number; fraction: number; message: string }
  | { type: 'log'; sequence: number; level: string; message: string }
  | { type: 'partial'; sequence: number; data: unknown }
  | { type: 'result'; sequence: number; output: unknown; toolVersion: string; attempts: number; durationMs: number }
  | { type: 'error'; sequence: number; error: ToolCallError; attempt: number; willRetry: boolean };

/** What a finished call returns: the output and everything streamed on the way. */
export interface ToolCallResult<O = unknown> {
  output: O;
  toolVersion: string;
  attempts: number;
  durationMs: number;
  events: ToolCallEvent[];
}
