import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ToolSandboxServiceService, type GrantToolRequest } from '@elixirchain/proto/sandbox';
import { runCli } from './tool-project-fixture.js';

// A stand-in tool-sandbox that records what the CLI sends: enough to see the
// bearer token travel and a refusal come back as a one-line failure.
describe('elixirchain-tool talking to a tool-sandbox', () => {
  let server: grpc.Server;
  let address: string;
  const seen: Array<{ authorization: string | undefined; request: GrantToolRequest }> = [];

  before(async () => {
    server = new grpc.Server();
    server.addService(ToolSandboxServiceService, {
      grantTool: (call: grpc.ServerUnaryCall<GrantToolRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen.push({ authorization: call.metadata.get('authorization')[0]?.toString(), request: call.request });
        if (call.request.toolName === 'unknown-tool') {
          callback({ code: grpc.status.NOT_FOUND, details: 'tool unknown-tool not found' });
          return;
        }
        callback(null, { grant: { toolName: call.request.toolName, permissions: call.request.permissions }, activated: [] });
      },
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    address = `127.0.0.1:${port}`;
  });
  after(() => server.forceShutdown());

  it('sends --token as a bearer token with the grant', async () => {
    const result = await runCli(['grant', 'weather', '--network', 'api.open-meteo.com', '--secret', 'KEY', '--target', address, '--token', 's3cr3t-token']);
    assert.equal(result.code, 0, JSON.stringify(result.json));
    assert.equal(seen.at(-1)?.authorization, 'Bearer s3cr3t-token');
    assert.deepEqual(seen.at(-1)?.request.permissions, { networkHosts: ['api.open-meteo.com'], secrets: ['KEY'] });
  });

  it('turns a refusal into exit code 1 and one line naming the gRPC code', async () => {
    const result = await runCli(['grant', 'unknown-tool', '--secret', 'KEY', '--target', address]);
    assert.equal(result.code, 1);
    assert.equal(result.json.error.code, 'NOT_FOUND');
    assert.equal(result.json.error.message, 'NOT_FOUND: tool unknown-tool not found');
  });

  it('says which address it could not reach', async () => {
    const result = await runCli(['invoke', 'calculator', '--target', '127.0.0.1:1', '--connect-timeout', '500']);
    assert.equal(result.code, 1);
    assert.match(result.json.error.message, /^UNAVAILABLE: cannot reach a tool-sandbox at 127\.0\.0\.1:1/);
  });
});
