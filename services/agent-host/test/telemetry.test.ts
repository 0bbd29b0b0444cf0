import assert from 'node:assert/strict';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Agent, SendMessageRequest, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { initTelemetry, until, type Telemetry } from '@elixirchain/runtime';
import { AgentHost } from '../src/host/agent-host.js';
import { processAgentHostLoad } from '../src/metrics/agent-host-metrics.js';
import { InProcessMemory } from '../src/ports/in-process-memory.js';
import { InProcessToolRunner } from '../src/ports/in-process-tool-runner.js';

const text = (t: string, delayMs = 0) => ({ chunkSize: 0, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: 0, nanos: delayMs * 1e6 } } : {}) });
const call = (name: string, args: Record<string, unknown>) => ({ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { name, arguments: args, id: '' } } });
const SECRET_PROMPT = 'my private question about 2 and 3';

async function collect(stream: AsyncIterable<ThreadEvent>): Promise<ThreadEvent[]> {
  const out: ThreadEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

describe('agent-host telemetry: turn metrics and GenAI model spans', function () {
  this.timeout(30_000);
  let telemetry: Telemetry;
  const spans = new InMemorySpanExporter();
  const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 3_600_000 });
  let host: AgentHost;

  /** The points of one metric as of now. */
  async function points(name: string): Promise<DataPoint<unknown>[]> {
    exported.reset();
    await reader.forceFlush();
    const all = exported.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    return all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
  }
  const sum = async (name: string, attrs: Record<string, string> = {}) =>
    (await points(name)).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (typeof p.value === 'number' ? p.value : (p.value as Histogram).count), 0);

  before(() => {
    telemetry = initTelemetry('agent-host-test', { exporter: spans, metricReader: reader });
    host = new AgentHost({
      memory: new InProcessMemory(),
      tools: new InProcessToolRunner([
        { name: 'add', run: (i) => ({ sum: Number(i.a) + Number(i.b) }) },
        {
          name: 'broken',
          run: () => {
            throw new Error('always fails');
          },
        },
      ]),
    });
  });
  after(async () => {
    await host?.stop();
    await telemetry?.shutdown();
    // Leave the global API as other suites expect it: no-op.
    metrics.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('records turn latency, tokens, tool call latency and errors, and GenAI attributes on model spans without the prompt', async () => {
    await host.createAgent(
      Agent.fromPartial({
        id: 'measured',
        tools: [{ name: 'add' }, { name: 'broken' }],
        model: { provider: 'scripted', model: 'scripted-1', script: [{ events: [call('add', { a: 2, b: 3 }), call('broken', {})] }, { events: [text('The sum is 5.')] }] },
      }),
      '',
    );
    const events = await collect(await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'measured', content: SECRET_PROMPT })));
    const done = events.at(-1)!;
    assert.equal(done.event?.$case === 'turnCompleted' && done.event.turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    const usage = done.event?.$case === 'turnCompleted' ? done.event.turnCompleted.usage! : undefined;

    assert.equal(await sum('elixirchain.agent.turn.duration', { 'elixirchain.turn.status': 'completed' }), 1, 'one completed turn in the latency histogram');
    assert.equal(await sum('elixirchain.agent.turn.tokens', { 'gen_ai.token.type': 'input' }), usage!.inputTokens);
    assert.equal(await sum('elixirchain.agent.turn.tokens', { 'gen_ai.token.type': 'output' }), usage!.outputTokens);
    assert.ok(usage!.inputTokens > 0 && usage!.outputTokens > 0);
    assert.equal(await sum('gen_ai.client.operation.duration', { 'gen_ai.system': 'scripted' }), 2, 'two model calls');
    assert.equal(await sum('elixirchain.agent.tool_call.duration', { 'gen_ai.tool.name': 'add' }), 1);
    assert.equal(await sum('elixirchain.agent.tool_call.errors', { 'gen_ai.tool.name': 'broken', 'error.type': 'INTERNAL' }), 1);
    assert.equal(await sum('elixirchain.agent.tool_call.errors', { 'gen_ai.tool.name': 'add' }), 0);
    // A second host in the process (one per tenant) adds to the gauges instead of replacing them.
    const other = new AgentHost({ memory: new InProcessMemory(), tools: new InProcessToolRunner([]) });
    assert.equal(await sum('elixirchain.agent.resident'), 1);
    await other.stop();
    assert.equal(await sum('elixirchain.agent.resident'), 1);

    const chats = spans.getFinishedSpans().filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    assert.equal(chats.length, 2);
    for (const span of chats) {
      assert.equal(span.attributes['gen_ai.system'], 'scripted');
      assert.equal(span.attributes['gen_ai.request.model'], 'scripted-1');
      assert.ok(Number(span.attributes['gen_ai.usage.input_tokens']) > 0);
      assert.equal(typeof span.attributes['gen_ai.usage.output_tokens'], 'number');
    }
    assert.deepEqual(chats.map((s) => s.attributes['gen_ai.response.finish_reasons']), [['tool_calls'], ['stop']]);
    const turnSpan = spans.getFinishedSpans().find((s) => s.name === 'invoke_agent')!;
    assert.ok(chats.every((s) => s.spanContext().traceId === turnSpan.spanContext().traceId), 'model calls are in the turn’s trace');
    const everyValue = spans.getFinishedSpans().flatMap((s) => Object.values(s.attributes).flat().map(String));
    assert.ok(!everyValue.some((v) => v.includes('private question')), 'no prompt text in any span');
  });

  it('traces a message that waited in the mailbox under the SendMessage that sent it, not under the turn before it', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'queued-trace', model: { provider: 'scripted', script: [{ events: [text('slow ', 100), text('answer')] }] } }), '');
    const tracer = trace.getTracer('telemetry-test');
    // Each SendMessage under a caller span of its own, as a traced gRPC client's call would be.
    const send = (name: string) =>
      tracer.startActiveSpan(name, async (span) => {
        try {
          return { traceId: span.spanContext().traceId, stream: await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'queued-trace', content: name, threadId: 'queued-trace-thread' })) };
        } finally {
          span.end();
        }
      });
    const first = await send('caller-1');
    const second = await send('caller-2');
    const [a, b] = await Promise.all([collect(first.stream), collect(second.stream)]);
    const startedTrace = (events: ThreadEvent[]) => (events.find((e) => e.event?.$case === 'turnStarted')?.event as { turnStarted: { traceId: string } }).turnStarted.traceId;
    assert.ok(b.some((e) => e.event?.$case === 'turnQueued'), 'the second message waited in the mailbox');
    assert.equal(startedTrace(a), first.traceId);
    assert.equal(startedTrace(b), second.traceId, 'the queued turn is in its own caller’s trace');
    const turnSpans = spans.getFinishedSpans().filter((s) => s.name === 'invoke_agent' && s.attributes['elixirchain.thread.id'] === 'queued-trace-thread');
    assert.deepEqual(turnSpans.map((s) => s.spanContext().traceId).sort(), [first.traceId, second.traceId].sort());
  });

  it('reports active agents, running turns and mailbox depth while a message waits', async () => {
    await host.createAgent(Agent.fromPartial({ id: 'busy', model: { provider: 'scripted', script: [{ events: Array.from({ length: 20 }, (_, i) => text(`w${i} `, 50)) }] } }), '');
    const first = await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'busy', content: 'first', threadId: 'busy-thread' }));
    const second = await host.sendMessage(SendMessageRequest.fromPartial({ agentId: 'busy', content: 'second', threadId: 'busy-thread' }));
    await until('one message waiting in the mailbox', async () => (await sum('elixirchain.agent.mailbox.depth')) === 1, 30_000);
    assert.equal(await sum('elixirchain.agent.active'), 1);
    assert.equal(await sum('elixirchain.agent.turns.running'), 1);
    // What NodeStatusService reports: the same sum, with the deepest single mailbox.
    const load = processAgentHostLoad();
    assert.deepEqual([load.activeAgents, load.runningTurns, load.mailboxDepth, load.mailboxMaxDepth], [1, 1, 1, 1]);
    await Promise.all([collect(first), collect(second)]);
    assert.equal(await sum('elixirchain.agent.mailbox.depth'), 0);
    assert.equal(await sum('elixirchain.agent.active'), 0);
  });
});
