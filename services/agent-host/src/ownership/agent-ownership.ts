import type { LeaseManager } from '@elixirchain/runtime';
import { ElixirError, GrpcCode, errors, type Logger } from '@elixirchain/runtime';
import type { MemoryPort } from '../ports/memory-port.js';
import { agentsWithUnfinishedTurns } from '../threads/unfinished-turns.js';
import { OwnershipFence, type OwnerRecord } from './ownership-fence.js';

const DEFAULT_TENANT = 'default';

/** The agent's ownership record, in its tenant's memory (so the fence can be written atomically with the agent's history). */
export const ownerKey = (agentId: string) => `owners/agent/${agentId}`;
/**
 * The lease of a tenant's agent: `agent/<tenant>/<agentId>`, except tenant
 * "default", whose leases keep the `agent/<agentId>` they had before tenants
 * had replica ownership (a rolling upgrade keeps them). Agent ids and tenant
 * names have no "/", so no two tenants' agents share a lease.
 */
export const agentLease = (tenant: string, agentId: string) => (tenant === DEFAULT_TENANT ? `agent/${agentId}` : `agent/${tenant}/${agentId}`);

export type Route = { local: true } | { local: false; address: string; replica: string };

export interface AgentOwnershipOptions {
  leases: LeaseManager;
  memory: MemoryPort;
  replicaId: string;
  log: Logger;
  /** The tenant whose agents this is (default: "default"); memory must act for the same tenant. */
  tenant?: string;
}

/** FAILED_PRECONDITION NOT_OWNER carrying the owner's address: what a client (or the forwarding layer) acts on. */
export function notOwner(agentId: string, route: { address: string; replica: string }): ElixirError {
  return errors.failedPrecondition('NOT_OWNER', `agent ${agentId} is served by another agent-host replica at ${route.address}`, {
    agentId,
    ownerAddress: route.address,
    ownerReplica: route.replica,
  });
}

/**
 * Which agent-host replica owns which agent. Owning an agent means holding
 * its lease (LeaseManager, Redis or memory) *and* having written the agent's
 * ownership record in memory with that lease's fencing token; history writes
 * then go through the agent's OwnershipFence. Agents with unfinished turns
 * whose lease nobody holds (their replica died) are taken over by a periodic
 * scan, which starts their actors with resume, as a restart would.
 */
export class AgentOwnership {
  private readonly fences = new Map<string, OwnershipFence>();
  private readonly claiming = new Map<string, Promise<Route>>();
  private readonly releasing = new Map<string, Promise<void>>();
  private address = '';
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning = false;
  /** Set by the host: a fresh acquisition must resume the agent's unfinished turns. */
  onAcquired: (agentId: string) => void = () => {};
  /** Set by the host: the lease is gone, the actor must stop without writing. */
  onLost: (agentId: string) => void = () => {};
  /** Set by the host: whether the agent's actor runs here (then its turns are already being run). */
  isResident: (agentId: string) => boolean = () => false;

  readonly tenant: string;
  private readonly leasePrefix: string;

  constructor(private readonly options: AgentOwnershipOptions) {
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.leasePrefix = agentLease(this.tenant, '');
    options.leases.on('lost', (resource) => {
      const agentId = this.agentOf(resource);
      if (agentId === undefined) return;
      this.fences.delete(agentId);
      this.onLost(agentId);
    });
  }

  private resourceOf(agentId: string): string {
    return this.leasePrefix + agentId;
  }

  /** The agent a lease resource names, when it is one of this tenant's agents. */
  private agentOf(resource: string): string | undefined {
    if (!resource.startsWith(this.leasePrefix)) return undefined;
    const agentId = resource.slice(this.leasePrefix.length);
    return agentId && !agentId.includes('/') ? agentId : undefined;
  }

  get replicaId(): string {
    return this.options.replicaId;
  }

  /** The address other replicas forward to; nothing is acquired before it is known. */
  setAddress(address: string): void {
    this.address = address;
    this.options.leases.setData({ address, replica: this.options.replicaId });
  }

  /** The fence of an agent this replica owns; ABORTED NOT_OWNER otherwise (a write must not go out unfenced). */
  requireFence(agentId: string): OwnershipFence {
    const fence = this.fences.get(agentId);
    if (fence && this.options.leases.valid(this.resourceOf(agentId))) return fence;
    throw errors.aborted('NOT_OWNER', `this agent-host replica no longer owns agent ${agentId}`, { agentId });
  }

  owns(agentId: string): boolean {
    return this.fences.has(agentId) && this.options.leases.valid(this.resourceOf(agentId)) !== undefined;
  }

  /** Who holds the agent now, without taking it: local, another replica, or nobody. */
  async peek(agentId: string): Promise<Route | undefined> {
    if (this.owns(agentId)) return { local: true };
    const [holder] = await this.options.leases.holders([this.resourceOf(agentId)]);
    if (!holder) return undefined;
    if (holder.holder === this.options.leases.holder) return { local: true };
    return { local: false, address: holder.data.address ?? '', replica: holder.data.replica ?? holder.holder };
  }

  /** Local when this replica owns the agent (taking it if nobody does), else where its owner is. */
  route(agentId: string): Promise<Route> {
    if (this.owns(agentId)) return Promise.resolve({ local: true });
    let claim = this.claiming.get(agentId);
    if (!claim) {
      claim = this.claim(agentId).finally(() => this.claiming.delete(agentId));
      this.claiming.set(agentId, claim);
    }
    return claim;
  }

  private async claim(agentId: string): Promise<Route> {
    if (!this.address) throw errors.unavailable('STARTING', 'agent-host is starting', 200);
    await this.releasing.get(agentId);
    const got = await this.options.leases.acquire(this.resourceOf(agentId));
    if (!got.acquired) {
      if (!got.owner) throw errors.unavailable('OWNER_CHANGING', `agent ${agentId} is changing owner; retry`, 200);
      return { local: false, address: got.owner.data.address ?? '', replica: got.owner.data.replica ?? got.owner.holder };
    }
    const record: OwnerRecord = { replica: this.options.replicaId, address: this.address, token: got.lease.token };
    try {
      const entry = await this.options.memory.getState(ownerKey(agentId));
      const previous = entry?.value?.$case === 'structValue' ? (entry.value.structValue as Partial<OwnerRecord>) : undefined;
      if (previous && Number(previous.token) > record.token) {
        // Tokens went backwards: the lease store lost its counters (Redis restarted without persistence). Safety
        // does not depend on them (we hold the lease, and the compare-and-set below orders claims), so go on.
        this.options.log.warn({ agentId, previousToken: previous.token, token: record.token }, 'lease tokens went backwards; was the lease store reset?');
      }
      const written = await this.options.memory.putState({
        key: ownerKey(agentId),
        value: { $case: 'structValue', structValue: { ...record } },
        expectedVersion: entry?.version ?? 0,
      });
      this.fences.set(agentId, new OwnershipFence(agentId, ownerKey(agentId), written.version, record, () => this.options.leases.valid(this.resourceOf(agentId)) !== undefined, this.options.memory));
    } catch (error) {
      await this.options.leases.release(this.resourceOf(agentId));
      if (ElixirError.is(error, GrpcCode.ABORTED)) throw errors.unavailable('OWNER_CHANGING', `agent ${agentId} is changing owner; retry`, 200);
      throw error;
    }
    this.options.log.info({ agentId, tenant: this.tenant, token: record.token }, 'took ownership of agent');
    this.onAcquired(agentId);
    return { local: true };
  }

  /** Gives an agent up (its actor hibernated or was removed). */
  async release(agentId: string): Promise<void> {
    if (!this.fences.delete(agentId)) return;
    // A claim of the same agent waits for this, so the release cannot drop a lease taken after it.
    const done = this.options.leases.release(this.resourceOf(agentId)).finally(() => this.releasing.delete(agentId));
    this.releasing.set(agentId, done);
    await done;
  }

  /** Agents with unfinished turns and no actor running them: those nobody holds are claimed; returns the ones now local. */
  async claimOrphans(): Promise<string[]> {
    const agents = await agentsWithUnfinishedTurns(this.options.memory);
    const candidates = [...agents].filter((a) => !this.isResident(a));
    if (candidates.length === 0) return [];
    const holders = await this.options.leases.holders(candidates.map((a) => this.resourceOf(a)));
    const claimed: string[] = [];
    for (const [i, agentId] of candidates.entries()) {
      // Ours but not running (claimed by a read, or the actor ended): resume it too.
      if (holders[i] && !this.owns(agentId)) continue;
      try {
        if ((await this.route(agentId)).local) claimed.push(agentId);
      } catch (err) {
        this.options.log.debug({ err, agentId }, 'could not claim an orphaned agent');
      }
    }
    return claimed;
  }

  /** Runs claimOrphans every `everyMs` and hands what it claimed to `resume`. */
  startTakeover(everyMs: number, resume: (agentIds: string[]) => Promise<void>): void {
    if (this.scanTimer) return;
    const tick = async () => {
      if (this.scanning) return;
      this.scanning = true;
      try {
        const claimed = await this.claimOrphans();
        if (claimed.length > 0) {
          this.options.log.info({ agents: claimed.length, tenant: this.tenant }, 'took over agents with unfinished turns');
          await resume(claimed);
        }
      } catch (err) {
        this.options.log.warn({ err }, 'takeover scan failed');
      } finally {
        this.scanning = false;
      }
    };
    this.scanTimer = setInterval(() => void tick(), everyMs);
    this.scanTimer.unref();
    void tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.scanTimer);
    this.fences.clear();
    await this.options.leases.stop();
  }
}
