import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ElixirError, connect, type CallContext, type ServiceClient } from '@elixirchain/runtime';

export const FORWARDED_KEY = 'x-elixirchain-forwarded-by';

/**
 * Forwards a request that reached a replica which does not own the agent to
 * the replica that does (its address is in the lease). One hop only: a
 * forwarded request that again finds another owner (ownership moved in
 * between) is answered with FAILED_PRECONDITION NOT_OWNER carrying the
 * owner's address, and the caller retries.
 */
export class OwnerForwarder {
  private readonly clients = new Map<string, ServiceClient<typeof AgentServiceDefinition>>();

  constructor(private readonly replicaId: string) {}

  /** The owner's address when `error` says another replica owns the agent and this call may still be forwarded. */
  target(error: unknown, call: CallContext): string | undefined {
    if (!(error instanceof ElixirError) || error.reason !== 'NOT_OWNER') return undefined;
    if (call.metadata.get(FORWARDED_KEY).length > 0) return undefined;
    return error.metadata.ownerAddress || undefined;
  }

  client(address: string): ServiceClient<typeof AgentServiceDefinition> {
    let client = this.clients.get(address);
    if (!client) {
      client = connect(AgentServiceDefinition, address);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Call options for the hop: the caller's credentials pass through, and the owner knows not to forward again. */
  options(call: CallContext): { signal: AbortSignal; metadata: Record<string, string> } {
    const metadata: Record<string, string> = { [FORWARDED_KEY]: this.replicaId };
    const authorization = call.metadata.get('authorization')[0];
    if (typeof authorization === 'string') metadata.authorization = authorization;
    return { signal: call.signal, metadata };
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
