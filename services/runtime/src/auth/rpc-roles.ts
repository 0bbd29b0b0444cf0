import type { Role } from './principal.js';

// Which role may call which RPC. Admins may call everything; a service may
// call only what its peers need of it (SERVICE_CALLS), and what its own
// replicas forward to each other (REPLICA_FORWARDS). The README's role table
// is this file (role-table.ts).

const M = 'elixirchain.memory.v1.MemoryService';
const S = 'elixirchain.sandbox.v1.ToolSandboxService';
const A = 'elixirchain.agent.v1.AgentService';
const C = 'elixirchain.chain.v1.ChainService';
const AD = 'elixirchain.admin.v1.AdminService';
const NS = 'elixirchain.admin.v1.NodeStatusService';

type NonAdmin = Exclude<Role, 'admin'>;

/** Non-admin roles allowed per RPC (admin is always allowed). */
export const RPC_ROLES: Record<string, NonAdmin[]> = {
  [`${M}/AppendMessages`]: ['developer', 'service'],
  [`${M}/ListMessages`]: ['developer', 'service'],
  [`${M}/GetThread`]: ['developer', 'service'],
  [`${M}/ListThreads`]: ['developer', 'service'],
  [`${M}/DeleteThread`]: ['developer', 'service'],
  [`${M}/UpsertMemories`]: ['developer', 'service'],
  [`${M}/SearchMemories`]: ['developer', 'service'],
  [`${M}/GetMemory`]: ['developer', 'service'],
  [`${M}/ListMemories`]: ['developer', 'service'],
  [`${M}/DeleteMemory`]: ['developer', 'service'],
  [`${M}/ListNamespaces`]: ['developer', 'service'],
  [`${M}/DeleteNamespace`]: ['developer', 'service'],
  // Raw state holds the other services' registries and checkpoints: services only.
  [`${M}/PutState`]: ['service'],
  [`${M}/GetState`]: ['service'],
  [`${M}/ListState`]: ['service'],
  [`${M}/DeleteState`]: ['service'],
  [`${M}/BatchWrite`]: ['service'],

  [`${S}/RegisterTool`]: ['developer'],
  [`${S}/GetTool`]: ['developer', 'user', 'service'],
  [`${S}/ListTools`]: ['developer', 'user', 'service'],
  [`${S}/DeleteTool`]: ['developer'],
  [`${S}/InvokeTool`]: ['developer', 'service'],
  [`${S}/GrantTool`]: [],
  [`${S}/RevokeGrant`]: [],
  [`${S}/ListGrants`]: ['developer'],

  [`${A}/CreateAgent`]: ['developer'],
  [`${A}/GetAgent`]: ['developer', 'user', 'service'],
  [`${A}/ListAgents`]: ['developer', 'user'],
  [`${A}/UpdateAgent`]: ['developer'],
  [`${A}/DeleteAgent`]: ['developer'],
  [`${A}/SendMessage`]: ['developer', 'user', 'service'],
  [`${A}/WatchThread`]: ['developer', 'user', 'service'],
  [`${A}/ListMessages`]: ['developer', 'user'],
  [`${A}/GetThread`]: ['developer', 'user'],
  [`${A}/ListThreads`]: ['developer', 'user'],
  [`${A}/ResolveApproval`]: ['developer', 'user'],
  [`${A}/CancelTurn`]: ['developer', 'user', 'service'],

  [`${C}/CreateChain`]: ['developer'],
  [`${C}/GetChain`]: ['developer', 'user'],
  [`${C}/ListChains`]: ['developer', 'user'],
  [`${C}/UpdateChain`]: ['developer'],
  [`${C}/DeleteChain`]: ['developer'],
  [`${C}/StartRun`]: ['developer', 'user'],
  [`${C}/RunChain`]: ['developer', 'user'],
  [`${C}/WatchRun`]: ['developer', 'user'],
  [`${C}/GetRun`]: ['developer', 'user'],
  [`${C}/ListRuns`]: ['developer', 'user'],
  [`${C}/CancelRun`]: ['developer', 'user'],
  [`${C}/ResumeRun`]: ['developer', 'user'],

  // Key management and the audit log are the operator's; services only verify keys and record events.
  [`${AD}/CreateApiKey`]: [],
  [`${AD}/ListApiKeys`]: [],
  [`${AD}/RevokeApiKey`]: [],
  [`${AD}/ListAuditEvents`]: [],
  [`${AD}/GetApiKey`]: ['service'],
  [`${AD}/RecordAuditEvent`]: ['service'],

  // Served by every service: its load (agents, mailboxes, workers, runs, caches) across tenants, so admins only (operators included).
  [`${NS}/GetNodeStatus`]: [],
};

/** What each service may ask of the others (service principals are named by their service). */
export const SERVICE_CALLS: Record<string, string[]> = {
  'agent-host': [
    `${M}/AppendMessages`, `${M}/ListMessages`, `${M}/GetThread`, `${M}/ListThreads`, `${M}/UpsertMemories`, `${M}/SearchMemories`,
    `${M}/PutState`, `${M}/GetState`, `${M}/ListState`, `${M}/DeleteState`, `${M}/BatchWrite`,
    `${S}/GetTool`, `${S}/ListTools`, `${S}/InvokeTool`,
    `${AD}/GetApiKey`, `${AD}/RecordAuditEvent`,
  ],
  'tool-sandbox': [`${M}/PutState`, `${M}/GetState`, `${M}/ListState`, `${M}/DeleteState`, `${AD}/GetApiKey`, `${AD}/RecordAuditEvent`],
  'chain-executor': [
    `${M}/PutState`, `${M}/GetState`, `${M}/ListState`, `${M}/DeleteState`, `${M}/BatchWrite`,
    `${S}/GetTool`, `${S}/InvokeTool`,
    `${A}/GetAgent`, `${A}/SendMessage`, `${A}/WatchThread`, `${A}/CancelTurn`,
    `${AD}/GetApiKey`, `${AD}/RecordAuditEvent`,
  ],
  memory: [],
};

/**
 * What a service's replicas may ask of each other: the calls a replica
 * forwards to the replica that owns what they are about (agent-host's
 * "Routing: forward"). A caller with a token (API key, JWT, service token)
 * has it forwarded and is authenticated again by the owner; this table is not
 * used then. A caller known only by its mTLS certificate (chain-executor
 * without a token) has nothing to forward: the hop is made with the
 * forwarding replica's own certificate (CN agent-host), acting for the
 * caller's actor (x-elixirchain-on-behalf-of, which the owner trusts from a
 * service, and from which it takes the tenant whose agents and threads the
 * call may touch).
 *
 * Only what a service-identified caller can reach at a replica is forwarded
 * for it: SendMessage, WatchThread and CancelTurn (GetAgent is answered by any
 * replica; UpdateAgent, DeleteAgent and ResolveApproval are not open to
 * services at all, so a certificate-only caller never gets to the forwarding
 * of those). The forwarding replica authorised the caller against this same
 * table before it forwarded.
 *
 * What it widens: anyone holding an agent-host certificate can start, watch
 * and cancel turns on any agent-host, for any actor it names. It could already
 * read and write every tenant's threads, memories and raw state (agent records,
 * checkpoints, ownership) in memory, invoke tools for any actor in the sandbox,
 * and it holds the model credentials: no data or effect it could not reach
 * before, one more way to it. With service tokens instead of mTLS, an
 * agent-host accepts no agent-host token (deploy/: ELIXIRCHAIN_SERVICE_TOKENS
 * lists its callers from SERVICE_CALLS, not from this table), so there this
 * entry grants nothing.
 */
export const REPLICA_FORWARDS: Record<string, string[]> = {
  'agent-host': [`${A}/SendMessage`, `${A}/WatchThread`, `${A}/CancelTurn`],
};

// Health and reflection are served outside defineService, open to everyone:
// probes and generic tools need them.

export function mayCall(role: Role, subject: string, path: string): boolean {
  if (role === 'admin') return true;
  const rpc = path.startsWith('/') ? path.slice(1) : path;
  const allowed = RPC_ROLES[rpc];
  if (!allowed) return false; // unknown RPCs (e.g. future admin RPCs) are admin-only
  if (!allowed.includes(role)) return false;
  if (role === 'service') return SERVICE_CALLS[subject]?.includes(rpc) === true || REPLICA_FORWARDS[subject]?.includes(rpc) === true;
  return true;
}
