// Bare "agent-host": per SendMessage, the calls an agent turn makes in the
// naive design (notes/performance.md) with no work between them: 4 unary calls
// to memory, one 2-message InvokeTool stream, 52 events streamed back.
import * as grpc from '@grpc/grpc-js';
import { AgentServiceService, TurnStatus, type SendMessageRequest, type SendMessageResponse } from '@elixirchain/proto/agent';
import { MemoryServiceClient, Role, type Message } from '@elixirchain/proto/memory';
import { ToolSandboxServiceClient, type InvokeToolResponse } from '@elixirchain/proto/sandbox';
import { serveUntilSignalled } from './serve.js';
import { EXPECTED_TOOL_RESULT, TEXT_CHUNKS, TOOL_ARGUMENTS, TOOL_NAME } from '../workload.js';

const memory = new MemoryServiceClient(process.env.BARE_GRPC_MEMORY_ADDR!, grpc.credentials.createInsecure());
const sandbox = new ToolSandboxServiceClient(process.env.BARE_GRPC_SANDBOX_ADDR!, grpc.credentials.createInsecure());

function message(threadId: string, role: Role, content: string, extra: Partial<Message> = {}): Message {
  return { id: '', threadId, sequence: 0, role, content, toolCalls: [], toolCallId: '', name: '', isError: false, turnId: '', ...extra };
}

function append(threadId: string, messages: Message[]): Promise<unknown> {
  return new Promise((resolve, reject) =>
    memory.appendMessages({ threadId, messages, requestId: '' }, (error, reply) => (error ? reject(error) : resolve(reply))),
  );
}

function listMessages(threadId: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    memory.listMessages({ threadId, pageSize: 0, pageToken: '', newestFirst: false, afterSequence: 0 }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    ),
  );
}

function invokeTool(callId: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let output: unknown;
    const stream = sandbox.invokeTool({ name: TOOL_NAME, version: '', input: { ...TOOL_ARGUMENTS }, callId });
    stream.on('data', (event: InvokeToolResponse) => {
      if (event.event?.$case === 'result') output = event.event.result.output;
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(output));
  });
}

async function sendMessage(call: grpc.ServerWritableStream<SendMessageRequest, SendMessageResponse>): Promise<void> {
  const threadId = call.request.threadId || `t${Math.random().toString(36).slice(2)}`;
  const turnId = `turn-${threadId}`;
  let sequence = 0;
  const emit = (event: NonNullable<SendMessageResponse['event']>['event']): void => {
    call.write({ event: { sequence: ++sequence, threadId, turnId, event } });
  };
  await append(threadId, [message(threadId, Role.ROLE_USER, call.request.content)]);
  await listMessages(threadId);
  emit({ $case: 'turnStarted', turnStarted: { turnId, agentId: call.request.agentId, agentVersion: 1, userMessageId: 'm1', traceId: '' } });
  const result = await invokeTool('call_1');
  await append(threadId, [
    message(threadId, Role.ROLE_ASSISTANT, '', { toolCalls: [{ id: 'call_1', name: TOOL_NAME, arguments: { ...TOOL_ARGUMENTS } }] }),
    message(threadId, Role.ROLE_TOOL, '', { toolCallId: 'call_1', name: TOOL_NAME, toolResult: result }),
  ]);
  for (const text of TEXT_CHUNKS) emit({ $case: 'textDelta', textDelta: { text } });
  await append(threadId, [message(threadId, Role.ROLE_ASSISTANT, TEXT_CHUNKS.join(''))]);
  // No tool events go back (52 messages, as in notes/performance.md): the turn
  // completes only if the sandbox answered 5, which is how the client checks it.
  const status = result === EXPECTED_TOOL_RESULT ? TurnStatus.TURN_STATUS_COMPLETED : TurnStatus.TURN_STATUS_FAILED;
  emit({ $case: 'turnCompleted', turnCompleted: { turnId, status, usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, modelCalls: 2, toolCalls: 1 } } });
  call.end();
}

const server = new grpc.Server();
server.addService(AgentServiceService, {
  sendMessage(call: grpc.ServerWritableStream<SendMessageRequest, SendMessageResponse>) {
    sendMessage(call).catch((error: Error) => call.destroy(error));
  },
} as unknown as grpc.UntypedServiceImplementation);
await serveUntilSignalled(server, process.env.BARE_GRPC_ADDR!);
