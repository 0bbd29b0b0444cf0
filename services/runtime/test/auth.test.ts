import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { NodeStatusServiceDefinition } from '@elixirchain/proto/admin/node-status';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import {
  Authenticator,
  defineService,
  ElixirError,
  fromServiceError,
  generateApiKey,
  GrpcCode,
  mayCall,
  ON_BEHALF_OF_KEY,
  RPC_ROLES,
  startServer,
} from '../src/index.js';
import type { ApiKeyRecord, CallContext, Principal, RunningServer, ServiceDefinition } from '../src/index.js';
import { nodeArgsFor, superviseProcess } from '../src/index.js';
import { REPLICA_FORWARDS, SERVICE_CALLS } from '../src/auth/rpc-roles.js';

const definitions: ServiceDefinition[] = [AdminServiceDefinition, NodeStatusServiceDefinition, MemoryServiceDefinition, ToolSandboxServiceDefinition, AgentServiceDefinition, ChainServiceDefinition];

/** Handlers for every method that record who called and answer with an empty message. */
function recordingHandlers(definition: ServiceDefinition, seen: Principal[]) {
  return Object.fromEntries(
    Object.entries(definition.methods).map(([name, method]) => [
      name,
      method.responseStream
        ? async (_req: unknown, _stream: unknown, call: CallContext) => void seen.push(call.principal)
        : async (_req: unknown, call: CallContext) => (seen.push(call.principal), {}),
    ]),
  );
}

function rawCall(address: string, path: string, token: string | undefined, extra: Record<string, string> = {}): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(extra)) metadata.set(k, v);
  const identity = (b: Buffer) => b;
  const streaming = definitions.some((d) => Object.values(d.methods).some((m) => `/${d.fullName}/${m.name}` === path && m.responseStream));
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null) => {
      client.close();
      resolve(error);
    };
    if (streaming) {
      const call = client.makeServerStreamRequest(path, identity, identity, Buffer.alloc(0), metadata, { deadline: Date.now() + 5000 });
      call.on('data', () => {});
      call.on('error', done);
      call.on('end', () => done(null));
    } else {
      client.makeUnaryRequest(path, identity, identity, Buffer.alloc(0), metadata, { deadline: Date.now() + 5000 }, (e) => done(e));
    }
  });
}

describe('authentication and roles', () => {
  const keys = new Map<string, ApiKeyRecord>();
  const tokens: Record<string, string> = {};
  const serviceTokens = new Map([
    ['svc-agent-host-token-0123456789', 'agent-host'],
    ['svc-tool-sandbox-token-012345678', 'tool-sandbox'],
    ['svc-chain-executor-token-0123456', 'chain-executor'],
  ]);
  let server: RunningServer;
  const seen: Principal[] = [];
  let jwks: { keys: unknown[] };
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let dir: string;

  before(async () => {
    for (const role of ['admin', 'developer', 'user'] as const) {
      const { token, record } = generateApiKey({ tenant: 'acme', role });
      keys.set(record.id, record);
      tokens[role] = token;
    }
    const revoked = generateApiKey({ tenant: 'acme', role: 'admin' });
    keys.set(revoked.record.id, { ...revoked.record, revokedAt: new Date(Date.now() - 1000) });
    tokens.revoked = revoked.token;
    const expired = generateApiKey({ tenant: 'acme', role: 'admin', expiresAt: new Date(Date.now() - 1000) });
    keys.set(expired.record.id, expired.record);
    tokens.expired = expired.token;

    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] };
    dir = mkdtempSync(join(tmpdir(), 'auth-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));

    const authenticator = new Authenticator({
      apiKeys: { get: async (id) => keys.get(id) },
      serviceTokens,
      jwt: { jwksFile: join(dir, 'jwks.json'), issuer: 'https://idp.test', audience: 'elixirchain' },
      failedAuthPerPeer: { ratePerSecond: 1000, burst: 100_000 },
      perKey: { ratePerSecond: 10_000, burst: 100_000 },
      perTenant: { ratePerSecond: 10_000, burst: 100_000 },
      keyCacheMs: 0,
    });
    server = await startServer({
      name: 'auth',
      address: '127.0.0.1:0',
      auth: { mode: 'required', authenticator },
      services: definitions.map((d) => defineService(d, recordingHandlers(d, seen) as never)),
    });
  });
  after(async () => {
    await server.drain(1000);
    rmSync(dir, { recursive: true, force: true });
  });

  const jwt = (claims: Record<string, unknown>, audience = 'elixirchain') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('alice').setIssuer('https://idp.test').setAudience(audience).setIssuedAt().setExpirationTime('5m').sign(privateKey);

  it('refuses every RPC without a token, with a revoked or expired key, or a JWT of the wrong audience — alike', async () => {
    const wrongAudience = await jwt({ tenant: 'acme', role: 'admin' }, 'someone-else');
    for (const rpc of Object.keys(RPC_ROLES)) {
      for (const token of [undefined, 'garbage', tokens.revoked, tokens.expired, wrongAudience]) {
        const error = await rawCall(server.address, `/${rpc}`, token);
        assert.equal(error?.code, GrpcCode.UNAUTHENTICATED, `${rpc} with ${token?.slice(0, 6)}`);
        assert.equal(error?.details, 'missing or invalid credentials');
      }
    }
  });

  it('walks the role table RPC by RPC for every role', async () => {
    const callers: Array<[string, string, string]> = [
      ['admin', tokens.admin!, 'admin'],
      ['developer', tokens.developer!, 'developer'],
      ['user', tokens.user!, 'user'],
      ...[...serviceTokens].map(([token, name]) => [`service ${name}`, token, name] as [string, string, string]),
    ];
    let checked = 0;
    for (const rpc of Object.keys(RPC_ROLES)) {
      for (const [label, token, subject] of callers) {
        const role = label.startsWith('service') ? 'service' : (label as 'admin' | 'developer' | 'user');
        const expected = mayCall(role, subject, `/${rpc}`);
        const error = await rawCall(server.address, `/${rpc}`, token);
        if (expected) assert.equal(error, null, `${label} should call ${rpc}: ${error?.message}`);
        else assert.equal(error?.code, GrpcCode.PERMISSION_DENIED, `${label} must not call ${rpc}`);
        checked += 1;
      }
    }
    assert.equal(checked, Object.keys(RPC_ROLES).length * callers.length);
    // The table is not vacuous: each role is refused somewhere and allowed somewhere.
    for (const role of ['developer', 'user'] as const) {
      assert.ok(Object.keys(RPC_ROLES).some((rpc) => mayCall(role, 'x', `/${rpc}`)));
      assert.ok(Object.keys(RPC_ROLES).some((rpc) => !mayCall(role, 'x', `/${rpc}`)));
    }
    assert.equal(mayCall('service', 'tool-sandbox', '/elixirchain.sandbox.v1.ToolSandboxService/GrantTool'), false);
    assert.equal(mayCall('service', 'tool-sandbox', '/elixirchain.memory.v1.MemoryService/AppendMessages'), false);
  });

  it('lets agent-host replicas forward to each other only what a certificate-only caller can reach there', async () => {
    const A = 'elixirchain.agent.v1.AgentService';
    for (const rpc of ['SendMessage', 'WatchThread', 'CancelTurn']) assert.equal(mayCall('service', 'agent-host', `/${A}/${rpc}`), true, rpc);
    // Not open to services at all, so never forwarded for one; answered by any replica, so never forwarded.
    for (const rpc of ['CreateAgent', 'UpdateAgent', 'DeleteAgent', 'ResolveApproval', 'GetAgent', 'ListAgents', 'ListThreads', 'GetThread', 'ListMessages']) {
      assert.equal(mayCall('service', 'agent-host', `/${A}/${rpc}`), false, rpc);
    }
    assert.equal(mayCall('service', 'agent-host', '/elixirchain.chain.v1.ChainService/WatchRun'), false);
    // Only agent-host forwards, only its own RPCs, and only ones some other service may call as itself.
    assert.deepEqual(Object.keys(REPLICA_FORWARDS), ['agent-host']);
    for (const [service, rpcs] of Object.entries(REPLICA_FORWARDS)) {
      for (const rpc of rpcs) {
        assert.ok(rpc.startsWith(`${A}/`), `${service} serves ${rpc}`);
        assert.ok(RPC_ROLES[rpc]?.includes('service'), `${rpc} is open to services`);
        assert.ok(Object.entries(SERVICE_CALLS).some(([caller, calls]) => caller !== service && calls.includes(rpc)), `some service calls ${rpc}`);
      }
    }
  });

  it('accepts a JWT with the right issuer and audience and takes tenant and role from its claims', async () => {
    seen.length = 0;
    const token = await jwt({ tenant: 'globex', role: 'developer' });
    assert.equal(await rawCall(server.address, '/elixirchain.agent.v1.AgentService/ListAgents', token), null);
    assert.deepEqual({ ...seen[0] }, { subject: 'alice', tenant: 'globex', role: 'developer', via: 'jwt' });
  });

  it('trusts a forwarded caller only from a service', async () => {
    const actor = Buffer.from(JSON.stringify({ subject: 'k1', tenant: 'acme', role: 'user' })).toString('base64url');
    seen.length = 0;
    await rawCall(server.address, '/elixirchain.memory.v1.MemoryService/GetState', 'svc-tool-sandbox-token-012345678', { [ON_BEHALF_OF_KEY]: actor });
    assert.deepEqual(seen[0]?.onBehalfOf, { subject: 'k1', tenant: 'acme', role: 'user' });
    seen.length = 0;
    await rawCall(server.address, '/elixirchain.agent.v1.AgentService/ListAgents', tokens.developer, { [ON_BEHALF_OF_KEY]: Buffer.from(JSON.stringify({ subject: 'x', tenant: 'other', role: 'admin' })).toString('base64url') });
    assert.equal(seen[0]?.onBehalfOf, undefined);
    assert.equal(seen[0]?.tenant, 'acme');
  });

  it('rate-limits a key and failed attempts with RESOURCE_EXHAUSTED and RetryInfo', async () => {
    const limited = await startServer({
      name: 'limited',
      address: '127.0.0.1:0',
      auth: {
        mode: 'required',
        authenticator: new Authenticator({
          apiKeys: { get: async (id) => keys.get(id) },
          perKey: { ratePerSecond: 1, burst: 3 },
          failedAuthPerPeer: { ratePerSecond: 1, burst: 3 },
        }),
      },
      services: [defineService(AgentServiceDefinition, recordingHandlers(AgentServiceDefinition, []) as never)],
    });
    try {
      const path = '/elixirchain.agent.v1.AgentService/ListAgents';
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await rawCall(limited.address, path, tokens.user))?.code ?? 0);
      assert.deepEqual(codes.slice(0, 3), [0, 0, 0]);
      const error = await rawCall(limited.address, path, tokens.user);
      assert.equal(error?.code, GrpcCode.RESOURCE_EXHAUSTED);
      const decoded = fromServiceError(error!) as ElixirError;
      assert.equal(decoded.reason, 'RATE_LIMITED');
      assert.ok((decoded.retryAfterMs ?? 0) > 0);
      const failed = [];
      for (let i = 0; i < 5; i++) failed.push((await rawCall(limited.address, path, 'wrong'))?.code);
      assert.equal(failed[0], GrpcCode.UNAUTHENTICATED);
      assert.equal(failed[4], GrpcCode.RESOURCE_EXHAUSTED);
    } finally {
      await limited.drain(1000);
    }
  });
});

describe('safe defaults', () => {
  const fixture = fileURLToPath(new URL('./fixtures/config-checked-service.ts', import.meta.url));

  it('refuses to bind 0.0.0.0 without authentication, naming what to set', async () => {
    const child = superviseProcess(process.execPath, nodeArgsFor(fixture), {
      env: { ...process.env, FIXTURE_ADDR: '0.0.0.0:0', ELIXIRCHAIN_AUTH: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.process.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = await child.exited;
    assert.equal(exit.code, 2);
    assert.match(stderr, /ELIXIRCHAIN_AUTH/);
    assert.match(stderr, /refusing to listen on 0\.0\.0\.0/);
  });

  it('refuses ELIXIRCHAIN_AUTH=required with no credentials configured', async () => {
    const child = superviseProcess(process.execPath, nodeArgsFor(fixture), {
      env: { ...process.env, FIXTURE_ADDR: '127.0.0.1:0', ELIXIRCHAIN_AUTH: 'required' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.process.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = await child.exited;
    assert.equal(exit.code, 2);
    assert.match(stderr, /ELIXIRCHAIN_API_KEYS_FILE/);
  });
});

describe('the call logger under authentication', () => {
  it('names the authenticated principal and tenant on every line a handler logs', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ base: null }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const server = await startServer({
      name: 'auth-log',
      address: '127.0.0.1:0',
      logger,
      auth: { mode: 'required', authenticator: new Authenticator({ serviceTokens: new Map([['svc-agent-host-token-0123456789', 'agent-host']]) }) },
      services: [
        defineService(MemoryServiceDefinition, {
          getState: async (_req, call) => {
            call.log.info('inside the handler');
            return {};
          },
        }),
      ],
    });
    try {
      assert.equal(await rawCall(server.address, '/elixirchain.memory.v1.MemoryService/GetState', 'svc-agent-host-token-0123456789'), null);
    } finally {
      await server.drain(1000);
    }
    const line = lines.find((l) => l.msg === 'inside the handler');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.principal, 'agent-host');
    assert.equal(line.tenant, '*');
    assert.equal(line.method, '/elixirchain.memory.v1.MemoryService/GetState');
  });
});
