import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { defineService, runDetached, type AuditReporter, type CallContext, type ServiceBinding } from '@elixirchain/runtime';
import { AgentHost, type EventStream } from './host/agent-host.js';
import type { TenantAgentHosts } from './host/tenant-agent-hosts.js';
import type { OwnerForwarder } from './ownership/owner-forwarder.js';

/** Pipes a thread's events into a server stream; `await write` is the backpressure. */
async function pipe(events: EventStream, stream: { write(m: { event: any }): Promise<void>; signal: AbortSignal }): Promise<void> {
  const onAbort = () => events.close();
  stream.signal.addEventListener('abort', onAbort, { once: true });
  try {
    // Everything queued is sent without a wake-up per event (take() is synchronous); the writer sleeps only on an
    // empty queue or a full socket. Events leave the subscriber's buffer one by one as they are written, so a
    // blocked write leaves the rest queued there, under the high-water mark, where a lagging client's deltas merge.
    const subscriber = events.subscriber;
    for (let event = await subscriber.next(); event; event = await subscriber.next()) {
      do await stream.write({ event });
      while ((event = subscriber.take()));
    }
  } finally {
    stream.signal.removeEventListener('abort', onAbort);
    events.close();
  }
}

/**
 * AgentService over gRPC: validation and errors are the host's; this maps requests onto it.
 * With replicas, a call the host refuses with NOT_OWNER is forwarded to the owning replica.
 */
export function agentServiceBinding(hosts: AgentHost | TenantAgentHosts, forwarder?: OwnerForwarder, options: { audit?: AuditReporter } = {}): ServiceBinding {
  // Each call is served by its caller's tenant's host; a single AgentHost serves everyone (embedded, tests).
  const hostFor = (call: CallContext): Promise<AgentHost> => (hosts instanceof AgentHost ? Promise.resolve(hosts) : hosts.forCall(call));
  /** Runs `local`; if another replica owns the agent, runs `remote` against it instead. */
  async function owned<T>(call: CallContext, local: () => Promise<T>, remote: (address: string) => Promise<T>): Promise<T> {
    try {
      return await local();
    } catch (error) {
      const target = forwarder?.target(error, call);
      if (!target) throw error;
      return remote(target);
    }
  }
  const forwardStream = async (source: AsyncIterable<{ event?: any }>, stream: { write(m: { event: any }): Promise<void> }) => {
    for await (const message of source) await stream.write({ event: message.event });
  };
  return defineService(AgentServiceDefinition, {
    createAgent: async (req, call) => ({ agent: await (await hostFor(call)).createAgent(req.agent, req.requestId) }),
    getAgent: async (req, call) => ({ agent: await (await hostFor(call)).getAgent(req.id, req.version) }),
    listAgents: async (req, call) => (await hostFor(call)).listAgents(req.pageSize, req.pageToken),
    // Updates reach running actors (waiting turns may start): keep that work off the caller's deadline.
    updateAgent: async (req, call) => {
      const host = await hostFor(call);
      return owned(
        call,
        () => runDetached(async () => ({ agent: await host.updateAgent(req.agent, req.updateMask, req.expectedVersion, req.requestId) })),
        (owner) => forwarder!.client(owner).updateAgent(req, forwarder!.options(call)),
      );
    },
    deleteAgent: async (req, call) => {
      const host = await hostFor(call);
      const res = await owned(
        call,
        async () => ({ deleted: await host.deleteAgent(req.id) }),
        (owner) => forwarder!.client(owner).deleteAgent(req, forwarder!.options(call)),
      );
      if (res.deleted) await options.audit?.record('agent.delete', `agent/${req.id}`);
      return res;
    },
    sendMessage: async (req, stream, call) => {
      const host = await hostFor(call);
      // The turn outlives this call (the client may detach and WatchThread later).
      const events = await owned(
        call,
        () => runDetached(() => host.sendMessage(req)),
        async (owner) => {
          await forwardStream(forwarder!.client(owner).sendMessage(req, forwarder!.options(call)), stream);
          return undefined;
        },
      );
      if (events) await pipe(events, stream);
    },
    watchThread: async (req, stream, call) => {
      const host = await hostFor(call);
      const events = await owned(
        call,
        () => host.watchThread(req),
        async (owner) => {
          await forwardStream(forwarder!.client(owner).watchThread(req, forwarder!.options(call)), stream);
          return undefined;
        },
      );
      if (events) await pipe(events, stream);
    },
    listMessages: async (req, call) => (await hostFor(call)).listMessages(req),
    getThread: async (req, call) => ({ thread: await (await hostFor(call)).getThread(req.threadId) }),
    listThreads: async (req, call) => (await hostFor(call)).listThreads(req.agentId, req.pageSize, req.pageToken),
    resolveApproval: async (req, call) => {
      const host = await hostFor(call);
      const res = await owned(
        call,
        () => runDetached(async () => ({ resolution: await host.resolveApproval(req) })),
        (owner) => forwarder!.client(owner).resolveApproval(req, forwarder!.options(call)),
      );
      await options.audit?.record('approval.resolve', `thread/${req.threadId}/approval/${req.approvalId}`, { approve: req.approve });
      return res;
    },
    cancelTurn: async (req, call) => {
      const host = await hostFor(call);
      return owned(
        call,
        () => runDetached(() => host.cancelTurn(req)),
        (owner) => forwarder!.client(owner).cancelTurn(req, forwarder!.options(call)),
      );
    },
  });
}
