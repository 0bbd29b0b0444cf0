import { metrics, type BatchObservableCallback, type Counter, type Histogram, type Meter } from '@opentelemetry/api';

/** What the gauges read at each collection. */
export interface AgentHostLoad {
  residentAgents: number;
  /** Agents with at least one turn running. */
  activeAgents: number;
  runningTurns: number;
  /** Messages accepted and waiting in thread mailboxes. */
  mailboxDepth: number;
}

// Seconds, from a fast scripted turn to a long tool-using one.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKEN_BUCKETS = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/**
 * The agent host's OpenTelemetry instruments. Made from the global meter when
 * the host is built (after initTelemetry); without a meter provider they are
 * no-ops. Token and model-call histograms follow the GenAI semantic
 * conventions (gen_ai.client.*); the rest are elixirchain.agent.*.
 */
export class AgentHostMetrics {
  private readonly meter: Meter;
  readonly turnDuration: Histogram;
  readonly turnTokens: Counter;
  readonly modelDuration: Histogram;
  readonly modelTokens: Histogram;
  readonly toolDuration: Histogram;
  readonly toolErrors: Counter;
  private readonly callback: BatchObservableCallback;
  private readonly observables;

  constructor(load: () => AgentHostLoad) {
    this.meter = metrics.getMeter('elixirchain.agent-host');
    const m = this.meter;
    this.turnDuration = m.createHistogram('elixirchain.agent.turn.duration', { unit: 's', description: 'Wall time of a turn, from start to its end (any status)', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.turnTokens = m.createCounter('elixirchain.agent.turn.tokens', { unit: '{token}', description: 'Tokens used by finished turns, by gen_ai.token.type (input, output)' });
    this.modelDuration = m.createHistogram('gen_ai.client.operation.duration', { unit: 's', description: 'Duration of a model call (streamed to its end)', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.modelTokens = m.createHistogram('gen_ai.client.token.usage', { unit: '{token}', description: 'Tokens per model call, by gen_ai.token.type', advice: { explicitBucketBoundaries: TOKEN_BUCKETS } });
    this.toolDuration = m.createHistogram('elixirchain.agent.tool_call.duration', { unit: 's', description: 'Duration of a tool call made through tool-sandbox', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.toolErrors = m.createCounter('elixirchain.agent.tool_call.errors', { description: 'Tool calls that ended with an error result (error.type: the gRPC code)' });
    const resident = m.createObservableGauge('elixirchain.agent.resident', { description: 'Agent actors in memory (not hibernated)' });
    const active = m.createObservableGauge('elixirchain.agent.active', { description: 'Agents with a turn running' });
    const running = m.createObservableGauge('elixirchain.agent.turns.running', { description: 'Turns running' });
    const mailbox = m.createObservableGauge('elixirchain.agent.mailbox.depth', { description: 'Messages waiting in thread mailboxes' });
    this.observables = [resident, active, running, mailbox];
    this.callback = (result) => {
      const now = load();
      result.observe(resident, now.residentAgents);
      result.observe(active, now.activeAgents);
      result.observe(running, now.runningTurns);
      result.observe(mailbox, now.mailboxDepth);
    };
    m.addBatchObservableCallback(this.callback, this.observables);
  }

  /** Stops reporting the gauges (the host stopped; another may report in this process). */
  close(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
