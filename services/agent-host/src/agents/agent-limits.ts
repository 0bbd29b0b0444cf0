import type { Agent } from '@elixirchain/proto/agent';

/** An agent's limits with the defaults filled in (0 in the proto means "use the default"). */
export interface EffectiveLimits {
  maxToolCallsPerTurn: number;
  turnTimeoutMs: number;
  maxTokensPerTurn: number;
  mailboxCapacity: number;
  maxConcurrentThreads: number;
}

export const DEFAULT_LIMITS: EffectiveLimits = {
  maxToolCallsPerTurn: 16,
  turnTimeoutMs: 10 * 60_000,
  maxTokensPerTurn: 0,
  mailboxCapacity: 16,
  maxConcurrentThreads: 64,
};

export function effectiveLimits(agent: Agent): EffectiveLimits {
  const l = agent.limits;
  const timeout = l?.turnTimeout ? l.turnTimeout.seconds * 1000 + Math.round(l.turnTimeout.nanos / 1e6) : 0;
  return {
    maxToolCallsPerTurn: l?.maxToolCallsPerTurn || DEFAULT_LIMITS.maxToolCallsPerTurn,
    turnTimeoutMs: timeout || DEFAULT_LIMITS.turnTimeoutMs,
    maxTokensPerTurn: l?.maxTokensPerTurn || DEFAULT_LIMITS.maxTokensPerTurn,
    mailboxCapacity: l?.mailboxCapacity || DEFAULT_LIMITS.mailboxCapacity,
    maxConcurrentThreads: l?.maxConcurrentThreads || DEFAULT_LIMITS.maxConcurrentThreads,
  };
}

export function memoryNamespace(agent: Agent): string {
  return agent.memoryPolicy?.namespace || `agent:${agent.id}`;
}
