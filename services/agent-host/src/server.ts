import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { defineService, runDetached, type ServiceBinding } from '@elixirchain/runtime';
import type { AgentHost, EventStream } from './host/agent-host.js';

/** Pipes a thread's events into a server stream; `await write` is the backpressure. */
async function pipe(events: EventStream, stream: { write(m: { event: any }): Promise<void>; signal: AbortSignal }): Promise<void> {
  const onAbort = () => events.close();
  stream.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const event of events) await stream.write({ event });
  } finally {
    stream.signal.removeEventListener('abort', onAbort);
    events.close();
  }
}

/** AgentService over gRPC: validation and errors are the host's; this maps requests onto it. */
export function agentServiceBinding(host: AgentHost): ServiceBinding {
  return defineService(AgentServiceDefinition, {
    createAgent: async (req) => ({ agent: await host.createAgent(req.agent, req.requestId) }),
    getAgent: async (req) => ({ agent: await host.getAgent(req.id, req.version) }),
    listAgents: (req) => host.listAgents(req.pageSize, req.pageToken),
    // Updates reach running actors (waiting turns may start): keep that work off the caller's deadline.
    updateAgent: (req) => runDetached(async () => ({ agent: await host.updateAgent(req.agent, req.updateMask, req.expectedVersion, req.requestId) })),
    deleteAgent: async (req) => ({ deleted: await host.deleteAgent(req.id) }),
    sendMessage: async (req, stream) => {
      // The turn outlives this call (the client may detach and WatchThread later).
      const events = await runDetached(() => host.sendMessage(req));
      await pipe(events, stream);
    },
    watchThread: async (req, stream) => {
      const events = await host.watchThread(req);
      await pipe(events, stream);
    },
    listMessages: (req) => host.listMessages(req),
    getThread: async (req) => ({ thread: await host.getThread(req.threadId) }),
    listThreads: (req) => host.listThreads(req.agentId, req.pageSize, req.pageToken),
    resolveApproval: (req) => runDetached(async () => ({ resolution: await host.resolveApproval(req) })),
    cancelTurn: (req) => runDetached(() => host.cancelTurn(req)),
  });
}
