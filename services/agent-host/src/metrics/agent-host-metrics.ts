import { metrics, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';

/** What the gauges read at each collection. */
export interface AgentHostLoad {
  residentAgents: number;
  /** Agents with at least one turn running. */
  activeAgents: number;
  runningTurns: number;
  /** Messages accepted and waiting in thread mailboxes. */
  mailboxDepth: number;
  /** The most messages any one agent has waiting. */
  mailboxMaxDepth: number;
}

// Seconds, from a fast scripted turn to a long tool-using one.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKEN_BUCKETS = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/**
 * One set of gauges per process, summing every AgentHost in it (one per
 * tenant): separate callbacks would report the same series several times.
 */
const loadSources = new Set<() => AgentHostLoad>();
let gauges: { provider: MeterProvider; unregister: () => void } | undefined;

function ensureGauges(): void {
  const provider = metrics.getMeterProvider();
  if (gauges?.provider === provider) return;
  gauges?.unregister();
  const m = provider.getMeter('elixirchain.agent-host');
  const resident = m.createObservableGauge('elixirchain.agent.resident', { description: 'Agent actors in memory (not hibernated)' });
  const active = m.createObservableGauge('elixirchain.agent.active', { description: 'Agents with a turn running' });
  const running = m.createObservableGauge('elixirchain.agent.turns.running', { description: 'Turns running' });
  const mailbox = m.createObservableGauge('elixirchain.agent.mailbox.depth', { description: 'Messages waiting in thread mailboxes' });
  const observables = [resident, active, running, mailbox];
  const callback = (result: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    const total = processAgentHostLoad();
    result.observe(resident, total.residentAgents);
    result.observe(active, total.activeAgents);
    result.observe(running, total.runningTurns);
    result.observe(mailbox, total.mailboxDepth);
  };
  m.addBatchObservableCallback(callback, observables);
  gauges = { provider, unregister: () => m.removeBatchObservableCallback(callback, observables) };
}

/** What the gauges report: every AgentHost of this process (NodeStatusService reads it too). */
export function processAgentHostLoad(): AgentHostLoad {
  const total: AgentHostLoad = { residentAgents: 0, activeAgents: 0, runningTurns: 0, mailboxDepth: 0, mailboxMaxDepth: 0 };
  for (const load of loadSources) {
    const now = load();
    total.residentAgents += now.residentAgents;
    total.activeAgents += now.activeAgents;
    total.runningTurns += now.runningTurns;
    total.mailboxDepth += now.mailboxDepth;
    total.mailboxMaxDepth = Math.max(total.mailboxMaxDepth, now.mailboxMaxDepth);
  }
  return total;
}

/**
 * The agent host's OpenTelemetry instruments. Made from the global meter when
 * the host is built (after initTelemetry); without a meter provider they are
 * no-ops. Token and model-call histograms follow the GenAI semantic
 * conventions (gen_ai.client.*); the rest are elixirchain.agent.*.
 */
export class AgentHostMetrics {
  readonly turnDuration: Histogram;
  readonly turnTokens: Counter;
  readonly modelDuration: Histogram;
  readonly modelTokens: Histogram;
  readonly toolDuration: Histogram;
  readonly toolErrors: Counter;

  constructor(private readonly load: () => AgentHostLoad) {
    const m = metrics.getMeter('elixirchain.agent-host');
    this.turnDuration = m.createHistogram('elixirchain.agent.turn.duration', { unit: 's', description: 'Wall time of a turn, from start to its end (any status)', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.turnTokens = m.createCounter('elixirchain.agent.turn.tokens', { unit: '{token}', description: 'Tokens used by finished turns, by gen_ai.token.type (input, output)' });
    this.modelDuration = m.createHistogram('gen_ai.client.operation.duration', { unit: 's', description: 'Duration of a model call (streamed to its end)', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.modelTokens = m.createHistogram('gen_ai.client.token.usage', { unit: '{token}', description: 'Tokens per model call, by gen_ai.token.type', advice: { explicitBucketBoundaries: TOKEN_BUCKETS } });
    this.toolDuration = m.createHistogram('elixirchain.agent.tool_call.duration', { unit: 's', description: 'Duration of a tool call made through tool-sandbox', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.toolErrors = m.createCounter('elixirchain.agent.tool_call.errors', { description: 'Tool calls that ended with an error result (error.type: the gRPC code)' });
    loadSources.add(load);
    ensureGauges();
  }

  /** Stops reporting the gauges (the host stopped; another may report in this process). */
  close(): void {
    loadSources.delete(this.load);
    if (loadSources.size === 0) {
      gauges?.unregister();
      gauges = undefined;
    }
  }
}
