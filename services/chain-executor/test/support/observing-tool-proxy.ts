import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, defineService, startServer } from '@elixirchain/runtime';
import type { RunningServer } from '@elixirchain/runtime';

/**
 * A real gRPC ToolSandboxService that forwards every call to the real
 * tool-sandbox and records what passed through: which calls started (by
 * call id), which finished, which the caller cancelled, and how many were in
 * flight at once. Sandbox tools share no state between calls, so this is how
 * a test observes "ran once" and "was cancelled" from outside the executor.
 */
export class ObservingToolProxy {
  readonly started = new Map<string, number>();
  readonly finished = new Set<string>();
  readonly cancelled = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  private server!: RunningServer;
  private constructor(private readonly close: () => void) {}

  get address(): string {
    return this.server.address;
  }

  static async start(sandboxAddress: string): Promise<ObservingToolProxy> {
    const upstream = connect(ToolSandboxServiceDefinition, sandboxAddress);
    const proxy = new ObservingToolProxy(() => upstream.close());
    const binding = defineService(ToolSandboxServiceDefinition, {
      getTool: (req) => upstream.getTool(req),
      listTools: (req) => upstream.listTools(req),
      invokeTool: async (req, stream) => {
        proxy.started.set(req.callId, (proxy.started.get(req.callId) ?? 0) + 1);
        proxy.inFlight++;
        proxy.maxInFlight = Math.max(proxy.maxInFlight, proxy.inFlight);
        const onAbort = () => proxy.cancelled.add(req.callId);
        stream.signal.addEventListener('abort', onAbort, { once: true });
        try {
          for await (const event of upstream.invokeTool(req, { signal: stream.signal })) await stream.write(event);
          proxy.finished.add(req.callId);
        } finally {
          proxy.inFlight--;
          stream.signal.removeEventListener('abort', onAbort);
        }
      },
    });
    proxy.server = await startServer({ name: 'tool-proxy', address: '127.0.0.1:0', services: [binding] });
    return proxy;
  }

  /** Calls whose id names this step path (any attempt). */
  callsFor(path: string): string[] {
    return [...this.started.keys()].filter((id) => id.split(':')[1] === path);
  }

  async stop(): Promise<void> {
    await this.server.drain(1000);
    this.close();
  }
}
