import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from '@elixirchain/runtime';

const MAX_BODY_BYTES = 4 << 20;

/** One browser request as a route sees it. */
export class RequestContext {
  readonly abort = new AbortController();
  private bodyPromise: Promise<Record<string, unknown>> | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly params: Record<string, string>,
  ) {
    // The browser closing the connection cancels the gRPC call behind it.
    res.on('close', () => this.abort.abort(new Error('client closed the connection')));
  }

  /** Query parameters as a JSON object: "true"/"false" become booleans (proto3 JSON parsing would take "false" as true). */
  query(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.url.searchParams) out[key] = value === 'true' ? true : value === 'false' ? false : value;
    return out;
  }

  body(): Promise<Record<string, unknown>> {
    this.bodyPromise ??= readJsonBody(this.req);
    return this.bodyPromise;
  }

  /** Call options for the runtime client: cancelled with the request; the browser's credentials travel on. */
  callOptions(): { signal: AbortSignal; metadata?: Record<string, string> } {
    const authorization = this.req.headers.authorization;
    return { signal: this.abort.signal, ...(authorization ? { metadata: { authorization } } : {}) };
  }
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw errors.invalidArgument('body', `exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw errors.invalidArgument('body', 'is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw errors.invalidArgument('body', 'must be a JSON object');
  return parsed as Record<string, unknown>;
}
