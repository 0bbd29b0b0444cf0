import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentServiceDefinition, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, connect, spawnService, type SpawnedService } from '@elixirchain/runtime';

// A rolling restart of agent-host while a client reads a streaming answer:
// SIGTERM drains the old process (the stream ends UNAVAILABLE), a new process
// takes over the same memory, and the client re-attaches with WatchThread
// from the last sequence it saw. It must get exactly the rest: contiguous
// sequence numbers, no text twice, the turn completed, the message stored once.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = (service: string) => join(repoRoot, 'services', service, 'src', 'main.ts');
// 60 chunks 50 ms apart: the SIGTERM after the 8th leaves seconds of stream, even on a loaded machine.
const CHUNKS = Array.from({ length: 60 }, (_, i) => `chunk${String(i).padStart(2, '0')} `);

describe('rolling restart of agent-host during a streaming turn', function () {
  this.timeout(150_000);
  let dataDir: string;
  let memory: SpawnedService;
  let toolSandbox: SpawnedService;
  const hosts: SpawnedService[] = [];

  const startAgentHost = async () => {
    const host = await spawnService({
      entry: entry('agent-host'),
      env: { ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: toolSandbox.address, ELIXIRCHAIN_AGENT_HOST_ADDR: '127.0.0.1:0', OPENAI_API_KEY: '' },
      readyTimeoutMs: 60_000,
    });
    hosts.push(host);
    return host;
  };

  before(async function () {
    this.timeout(120_000);
    dataDir = mkdtempSync(join(tmpdir(), 'elixirchain-rolling-'));
    memory = await spawnService({ entry: entry('memory'), env: { ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0' }, readyTimeoutMs: 60_000 });
    toolSandbox = await spawnService({
      entry: entry('tool-sandbox'),
      env: { ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: '127.0.0.1:0' },
      readyTimeoutMs: 60_000,
    });
  });

  after(async () => {
    for (const service of [...hosts, toolSandbox, memory]) await service?.stop().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGTERM mid-stream, new process, WatchThread(after_sequence): the rest arrives once, contiguous, and the turn completes', async () => {
    const first = await startAgentHost();
    const client = connect(AgentServiceDefinition, first.address);
    await client.createAgent({
      agent: {
        id: 'slow-talker',
        model: { provider: 'scripted', script: [{ events: CHUNKS.map((text) => ({ chunkSize: 0, delay: { seconds: 0, nanos: 50e6 }, event: { $case: 'text' as const, text } })) }] },
      },
    });

    const seen: ThreadEvent[] = [];
    let streamError: unknown;
    let drained: Promise<void> | undefined;
    try {
      for await (const { event } of client.sendMessage({ agentId: 'slow-talker', content: 'tell me a long story', threadId: 'rolling-thread' })) {
        if (!event) continue;
        seen.push(event);
        if (!drained && seen.filter((e) => e.event?.$case === 'textDelta').length === 8) drained = first.stop();
      }
    } catch (error) {
      streamError = error;
    }
    client.close();
    await drained;
    assert.ok(drained, 'the old process was sent SIGTERM mid-stream');
    assert.ok(ElixirError.is(streamError, GrpcCode.UNAVAILABLE), `the stream ended UNAVAILABLE, got ${String(streamError)}`);
    assert.ok(!seen.some((e) => e.event?.$case === 'turnCompleted'), 'the turn was still running when the stream ended');
    const lastSeen = seen.at(-1)!.sequence;

    const second = await startAgentHost();
    const again = connect(AgentServiceDefinition, second.address);
    const rest: ThreadEvent[] = [];
    for await (const { event } of again.watchThread({ threadId: 'rolling-thread', afterSequence: lastSeen })) if (event) rest.push(event);

    const all = [...seen, ...rest];
    const sequences = all.map((e) => e.sequence);
    assert.deepEqual(sequences, Array.from({ length: all.length }, (_, i) => sequences[0] + i), 'contiguous sequences, no gap, no duplicate');
    assert.equal(rest.at(-1)?.event?.$case, 'turnCompleted');
    assert.equal((rest.at(-1)!.event as { turnCompleted: { status: TurnStatus } }).turnCompleted.status, TurnStatus.TURN_STATUS_COMPLETED);
    const text = all.flatMap((e) => (e.event?.$case === 'textDelta' ? [e.event.textDelta.text] : [])).join('');
    assert.equal(text, CHUNKS.join(''), 'the client saw every chunk exactly once');
    assert.equal(all.filter((e) => e.event?.$case === 'turnStarted').length, 1);

    const { messages } = await again.listMessages({ threadId: 'rolling-thread', pageSize: 100 });
    assert.deepEqual(messages.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT]);
    assert.equal(messages[1].content, CHUNKS.join(''), 'the assistant message holds the complete text once');
    again.close();
  });
});
