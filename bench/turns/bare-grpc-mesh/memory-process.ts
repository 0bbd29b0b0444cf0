// Bare "memory": answers AppendMessages and ListMessages with canned replies, no storage.
import * as grpc from '@grpc/grpc-js';
import { MemoryServiceService, Role, type AppendMessagesRequest, type ListMessagesRequest } from '@elixirchain/proto/memory';
import { serveUntilSignalled } from './serve.js';

const server = new grpc.Server();
server.addService(MemoryServiceService, {
  appendMessages(call: grpc.ServerUnaryCall<AppendMessagesRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const { threadId, messages } = call.request;
    callback(null, {
      thread: { id: threadId, version: messages.length, metadata: undefined },
      messages: messages.map((m, i) => ({ ...m, id: `m${i}`, sequence: i + 1 })),
      replayed: false,
    });
  },
  listMessages(call: grpc.ServerUnaryCall<ListMessagesRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const threadId = call.request.threadId;
    callback(null, {
      messages: [{ id: 'm1', threadId, sequence: 1, role: Role.ROLE_USER, content: 'What is 2 + 3?', toolCalls: [], toolCallId: '', name: '', isError: false, turnId: '' }],
      nextPageToken: '',
      thread: { id: threadId, version: 1 },
    });
  },
} as unknown as grpc.UntypedServiceImplementation);
await serveUntilSignalled(server, process.env.BARE_GRPC_ADDR!);
