import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

// The contract must compile with a toolchain other than ours (here protobufjs,
// through @grpc/proto-loader, as grpc-node clients use it): no ts-proto options
// or TypeScript-only imports may leak into the .proto files.
const protoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = ['memory', 'sandbox', 'agent', 'chain', 'admin'].flatMap((pkg) =>
  readdirSync(join(protoRoot, 'elixirchain', pkg, 'v1')).filter((f) => f.endsWith('.proto')).map((f) => `elixirchain/${pkg}/v1/${f}`),
);

describe('the v1 contract', () => {
  it('compiles every file with protobufjs and exposes the four services with their fixed RPCs', () => {
    const definition = protoLoader.loadSync(files, { includeDirs: [protoRoot], keepCase: true });
    const fixed: Record<string, string[]> = {
      'elixirchain.agent.v1.AgentService': ['CreateAgent', 'GetAgent', 'ListAgents', 'UpdateAgent', 'DeleteAgent', 'SendMessage', 'WatchThread', 'ListMessages', 'ResolveApproval', 'CancelTurn'],
      'elixirchain.memory.v1.MemoryService': ['AppendMessages', 'ListMessages', 'DeleteThread', 'UpsertMemories', 'SearchMemories', 'GetMemory', 'ListMemories', 'DeleteMemory', 'PutState', 'GetState', 'ListState', 'DeleteState'],
      'elixirchain.sandbox.v1.ToolSandboxService': ['RegisterTool', 'GetTool', 'ListTools', 'DeleteTool', 'InvokeTool'],
      'elixirchain.chain.v1.ChainService': ['CreateChain', 'GetChain', 'ListChains', 'UpdateChain', 'DeleteChain', 'StartRun', 'RunChain', 'WatchRun', 'GetRun', 'ListRuns', 'CancelRun', 'ResumeRun'],
    };
    for (const [service, rpcs] of Object.entries(fixed)) {
      const methods = definition[service] as Record<string, { responseStream: boolean }> | undefined;
      assert.ok(methods, `${service} missing`);
      for (const rpc of rpcs) assert.ok(methods[rpc], `${service}/${rpc} missing`);
    }
    for (const streaming of ['elixirchain.agent.v1.AgentService.SendMessage', 'elixirchain.chain.v1.ChainService.RunChain', 'elixirchain.sandbox.v1.ToolSandboxService.InvokeTool']) {
      const [pkgService, rpc] = [streaming.slice(0, streaming.lastIndexOf('.')), streaming.slice(streaming.lastIndexOf('.') + 1)];
      assert.equal((definition[pkgService] as any)[rpc].responseStream, true, `${streaming} must stream`);
    }
  });
});
