import { readFile } from 'node:fs/promises';
import { ToolCallError } from '../../client/tool-call-error.js';
import { ToolSandboxClient, type ToolSandboxClientOptions } from '../../client/tool-sandbox-client.js';
import { grantCommandLine } from './publish-command.js';
import type { ToolCallEvent } from '../../client/tool-call-event.js';
import { CliError, type CliOutput } from '../cli-output.js';

/** Calls a published tool, printing its progress stream as it arrives; Ctrl-C cancels the call. */
export async function invokeCommand(
  output: CliOutput,
  name: string | undefined,
  options: { target: string; connection?: ToolSandboxClientOptions; input?: string; inputFile?: string; version?: string; timeoutMs?: number; callId?: string },
) {
  if (!name) throw new CliError('invoke needs a tool name: elixirchain-tool invoke <tool> --input \'{"key":"value"}\'');
  const input = await readInput(options);
  const client = new ToolSandboxClient(options.target, options.connection);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    await output.step(`connecting to ${options.target}`, () => client.waitForReady(options.connection?.connectTimeoutMs ?? 10_000));
    const result = await client
      .invokeTool(name, input, {
        version: options.version,
        timeoutMs: options.timeoutMs,
        callId: options.callId,
        signal: controller.signal,
        // The final error is the command's one-line failure; print only the retried ones here.
        onEvent: (event) => (event.type !== 'error' || event.willRetry) && output.info(describeEvent(event)),
      })
      .catch(async (error: unknown) => {
        throw await withGrantHint(error, client, name, options.target);
      });
    output.result(
      { command: 'invoke', name, toolVersion: result.toolVersion, attempts: result.attempts, durationMs: result.durationMs, output: result.output, events: result.events },
      [JSON.stringify(result.output, null, 2)],
    );
  } finally {
    process.removeListener('SIGINT', onSigint);
    client.close();
  }
}

// A version waiting for a grant: say exactly what an operator has to run.
async function withGrantHint(error: unknown, client: ToolSandboxClient, name: string, target: string): Promise<unknown> {
  if (!(error instanceof ToolCallError) || error.reason !== 'TOOL_PENDING_GRANT') return error;
  try {
    const tool = await client.getTool(name);
    if (tool.missingPermissions.network.length + tool.missingPermissions.secrets.length === 0) return error;
    return new CliError(`${error.message}; an operator grants it with: ${grantCommandLine(name, tool.missingPermissions, target)}`, {
      details: { code: error.code, reason: error.reason, missingPermissions: tool.missingPermissions },
    });
  } catch {
    return error;
  }
}

async function readInput(options: { input?: string; inputFile?: string }): Promise<Record<string, unknown>> {
  const text = options.inputFile ? await readFile(options.inputFile, 'utf8') : (options.input ?? '{}');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--input is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError('--input must be a JSON object');
  return value as Record<string, unknown>;
}

export function describeEvent(event: ToolCallEvent): string {
  switch (event.type) {
    case 'started':
      return `  started ${event.toolVersion} (call ${event.callId}, attempt ${event.attempt})`;
    case 'progress':
      return `  progress ${event.fraction >= 0 ? `${Math.round(event.fraction * 100)}%` : '…'}${event.message ? ` ${event.message}` : ''}`;
    case 'log':
      return `  log [${event.level}] ${event.message}`;
    case 'partial':
      return `  partial ${JSON.stringify(event.data)}`;
    case 'result':
      return `  result in ${event.durationMs} ms (${event.attempts} attempt${event.attempts === 1 ? '' : 's'})`;
    case 'error':
      return `  error ${event.error.message}${event.willRetry ? ' (retrying)' : ''}`;
  }
}
