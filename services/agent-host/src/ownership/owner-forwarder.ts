import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ElixirError, ON_BEHALF_OF_KEY, connect, effectiveActor, encodeActor, type CallContext, type ServiceClient } from '@elixirchain/runtime';

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

  /**
   * Call options for the hop, and the owner knows not to forward again. A caller with a token has it passed
   * through: the owner authenticates the caller itself. A caller known only by its mTLS certificate has
   * nothing to pass: the hop goes with this replica's certificate, acting for the caller's actor (its own
   * on-behalf-of caller, or itself), which the owner trusts from an agent-host for the RPCs replicas forward
   * (rpc-roles.ts REPLICA_FORWARDS) and whose tenant it serves. (connect() would add the same actor from the
   * call being served; it is set here so the hop does not depend on where the client is called from.)
   */
  options(call: CallContext): { signal: AbortSignal; metadata: Record<string, string> } {
    const metadata: Record<string, string> = { [FORWARDED_KEY]: this.replicaId };
    const authorization = call.metadata.get('authorization')[0];
    if (typeof authorization === 'string') metadata.authorization = authorization;
    else if (call.principal.via !== 'local') metadata[ON_BEHALF_OF_KEY] = encodeActor(effectiveActor(call.principal));
    return { signal: call.signal, metadata };
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
