import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeReply =
  | { kind: 'stream'; chunks: unknown[]; delayMs?: number }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown };

/** A local OpenAI-compatible endpoint: answers each POST /chat/completions with the next scripted reply. */
export class FakeOpenAIServer {
  readonly requests: Array<{ body: any; at: number }> = [];
  private server: Server | undefined;
  constructor(private readonly replies: FakeReply[]) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    this.requests.push({ body: JSON.parse(raw || '{}'), at: Date.now() });
    const reply = this.replies.shift() ?? { kind: 'status', status: 500, body: { error: { message: 'no more replies' } } };
    if (reply.kind === 'status') {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
      res.end(JSON.stringify(reply.body ?? { error: { message: `status ${reply.status}` } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const chunk of reply.chunks) {
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    }
    res.end('data: [DONE]\n\n');
  }
}

export function textChunk(text: string, finish: string | null = null) {
  return { id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta: { content: text }, finish_reason: finish }] };
}

export function toolChunk(index: number, part: { id?: string; name?: string; arguments?: string }, finish: string | null = null) {
  return {
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'fake',
    choices: [
      {
        index: 0,
        delta: { tool_calls: [{ index, ...(part.id ? { id: part.id, type: 'function' } : {}), function: { ...(part.name ? { name: part.name } : {}), arguments: part.arguments ?? '' } }] },
        finish_reason: finish,
      },
    ],
  };
}

export function usageChunk(prompt: number, completion: number) {
  return { id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
}
