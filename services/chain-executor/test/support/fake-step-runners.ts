import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { AgentInvocation, AgentStepRunner, ToolDescription, ToolInvocation, ToolStepRunner } from '../../src/execution/step-runners.js';

type ToolImpl = (input: Record<string, any>, signal: AbortSignal) => Promise<unknown> | unknown;

/** In-process tools for unit tests: records every call, honours abort, tracks concurrency. */
export class FakeToolRunner implements ToolStepRunner {
  readonly calls: ToolInvocation[] = [];
  readonly cancelled: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly tools: Record<string, { impl: ToolImpl; idempotent?: boolean }>) {}

  async invoke(call: ToolInvocation): Promise<unknown> {
    const tool = this.tools[call.tool];
    if (!tool) throw new ElixirError(GrpcCode.NOT_FOUND, 'TOOL_NOT_FOUND', `tool "${call.tool}" not found`);
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await new Promise((resolve, reject) => {
        const onAbort = () => {
          this.cancelled.push(call.callId);
          reject(call.signal.reason);
        };
        call.signal.addEventListener('abort', onAbort, { once: true });
        Promise.resolve()
          .then(() => tool.impl(call.input, call.signal))
          .then(resolve, reject)
          .finally(() => call.signal.removeEventListener('abort', onAbort));
      });
    } finally {
      this.inFlight--;
    }
  }

  async describe(tool: string): Promise<ToolDescription | undefined> {
    const t = this.tools[tool];
    return t && { name: tool, version: '1.0.0', idempotent: t.idempotent ?? false, readOnly: false, destructive: false };
  }
}

export class FakeAgentRunner implements AgentStepRunner {
  readonly calls: AgentInvocation[] = [];
  readonly cancelled: string[] = [];
  constructor(private readonly reply: (message: string, signal: AbortSignal) => Promise<string> | string = (m) => `echo: ${m}`) {}

  async send(call: AgentInvocation): Promise<string> {
    this.calls.push(call);
    call.signal.addEventListener('abort', () => this.cancelled.push(call.requestId), { once: true });
    const text = await this.reply(call.message, call.signal);
    for (const word of text.split(/(?<= )/)) call.onTextDelta(word);
    return text;
  }

  async exists(agentId: string): Promise<boolean> {
    return agentId !== 'missing';
  }
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
