import { LeaseManager, type LeaseStore, type Logger } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';
import { AgentOwnership } from './agent-ownership.js';

export interface ReplicaOwnershipOptions {
  /** Where every replica's leases are (Redis, or the default tenant's memory state). */
  leases: LeaseStore;
  replicaId: string;
  leaseTtlMs: number;
  log: Logger;
}

/**
 * This replica's ownership of agents, for every tenant: each tenant's host
 * gets an AgentOwnership over its own lease manager (leases
 * `agent/<tenant>/<id>`, see agentLease) and its tenant's memory (ownership
 * records and fences live next to the agent's history), all under the one
 * replica id and advertised address, in the one lease store every replica
 * reads.
 */
export class ReplicaOwnership {
  private address = '';
  private readonly tenants = new Map<string, AgentOwnership>();

  constructor(private readonly options: ReplicaOwnershipOptions) {}

  get replicaId(): string {
    return this.options.replicaId;
  }

  /** The ownership of one tenant's agents; `memory` must act for that tenant. */
  forTenant(tenant: string, memory: MemoryPort): AgentOwnership {
    const log = this.options.log.child({ tenant });
    const leases = new LeaseManager({ store: this.options.leases, holder: this.options.replicaId, ttlMs: this.options.leaseTtlMs, log });
    const ownership = new AgentOwnership({ leases, memory, replicaId: this.options.replicaId, log, tenant });
    if (this.address) ownership.setAddress(this.address);
    // A tenant's host that failed to start is stopped (its ownership with it) and built again: the new one counts.
    this.tenants.set(tenant, ownership);
    return ownership;
  }

  /** The address other replicas forward to, for the tenants there are and the ones to come. */
  setAddress(address: string): void {
    this.address = address;
    for (const ownership of this.tenants.values()) ownership.setAddress(address);
  }
}
