import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import type { BatchWriteRequest } from '@elixirchain/proto/memory';
import { connect, defineService, errors, startServer } from '@elixirchain/runtime';
import type { CallContext, RunningServer, ServiceHandlers } from '@elixirchain/runtime';

/** What one run-events row put in a BatchWrite carries: its key and the stored event bodies. */
export interface EventRowWrite {
  key: string;
  bodies: unknown[];
}

/**
 * A real gRPC MemoryService in front of the real memory that forwards every
 * call, except that it can hold BatchWrites back: once `holdFrom` says so
 * (judging the rows of a batch it forwarded), every later BatchWrite waits
 * and is dropped when its caller goes away (a killed executor), so what it
 * carried never becomes durable. This is how a test makes a crash land while
 * a run's pure steps are ahead of their checkpoint.
 */
export class HoldingMemoryProxy {
  /** Rows of the batches held back and never forwarded. */
  readonly dropped: EventRowWrite[][] = [];
  /** Decides, after a batch was forwarded, whether the later ones are held. */
  holdFrom: (rows: EventRowWrite[]) => boolean = () => false;
  holding = false;
  private server!: RunningServer;
  private constructor(private readonly close: () => void) {}

  get address(): string {
    return this.server.address;
  }

  static async start(memoryAddress: string): Promise<HoldingMemoryProxy> {
    const upstream = connect(MemoryServiceDefinition, memoryAddress);
    const proxy = new HoldingMemoryProxy(() => upstream.close());
    const forward = upstream as unknown as Record<string, (req: unknown, options: { signal: AbortSignal }) => Promise<unknown> | AsyncIterable<unknown>>;
    const handlers: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(MemoryServiceDefinition.methods)) {
      handlers[name] = method.responseStream
        ? async (req: unknown, stream: { signal: AbortSignal; write(r: unknown): Promise<void> }) => {
            for await (const res of forward[name]!(req, { signal: stream.signal }) as AsyncIterable<unknown>) await stream.write(res);
          }
        : (req: unknown, call: CallContext) => forward[name]!(req, { signal: call.signal });
    }
    handlers.batchWrite = async (req: BatchWriteRequest, call: CallContext) => {
      const rows = eventRows(req);
      if (proxy.holding) {
        proxy.dropped.push(rows);
        // Never forwarded: it ends when the caller does (killed), and is not durable.
        await new Promise<never>((_, reject) => call.signal.addEventListener('abort', () => reject(errors.cancelled('held batch dropped')), { once: true }));
      }
      const res = await upstream.batchWrite(req, { signal: call.signal });
      if (proxy.holdFrom(rows)) proxy.holding = true;
      return res;
    };
    const binding = defineService(MemoryServiceDefinition, handlers as ServiceHandlers<typeof MemoryServiceDefinition>);
    proxy.server = await startServer({ name: 'memory-proxy', address: '127.0.0.1:0', services: [binding] });
    return proxy;
  }

  async stop(): Promise<void> {
    await this.server.drain(1000);
    this.close();
  }
}

function eventRows(req: BatchWriteRequest): EventRowWrite[] {
  const rows: EventRowWrite[] = [];
  for (const op of req.operations) {
    if (op.operation?.$case !== 'putState' || !op.operation.putState.key.startsWith('run-events/')) continue;
    const value = op.operation.putState.value;
    if (value?.$case !== 'bytesValue') continue;
    const row = JSON.parse(Buffer.from(value.bytesValue).toString('utf8')) as { bodies?: unknown[] };
    rows.push({ key: op.operation.putState.key, bodies: row.bodies ?? [] });
  }
  return rows;
}
