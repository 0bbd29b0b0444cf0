// Bare "tool-sandbox": InvokeTool streams started + result (the sum), runs nothing.
import * as grpc from '@grpc/grpc-js';
import { ToolSandboxServiceService, type InvokeToolRequest, type InvokeToolResponse } from '@elixirchain/proto/sandbox';
import { serveUntilSignalled } from './serve.js';

const server = new grpc.Server();
server.addService(ToolSandboxServiceService, {
  invokeTool(call: grpc.ServerWritableStream<InvokeToolRequest, InvokeToolResponse>) {
    const { callId, input } = call.request;
    call.write({ sequence: 1, event: { $case: 'started', started: { callId, toolVersion: '1.0.0', attempt: 1 } } });
    call.write({ sequence: 2, event: { $case: 'result', result: { output: (input?.a ?? 0) + (input?.b ?? 0), toolVersion: '1.0.0', attempts: 1 } } });
    call.end();
  },
} as unknown as grpc.UntypedServiceImplementation);
await serveUntilSignalled(server, process.env.BARE_GRPC_ADDR!);
