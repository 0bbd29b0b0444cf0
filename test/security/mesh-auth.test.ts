// Must-show security tests over the real mesh (four service processes) with
// ELIXIRCHAIN_AUTH=required: every RPC refuses missing and bad credentials
// alike, keys are managed through memory and revoked within seconds, tenants
// do not see each other, and no secret reaches a log.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition, Role } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, ElixirError, GrpcCode, type ServiceDefinition } from '@elixirchain/runtime';
import { agent as agentStep, chain as chainOf, sequential, tool as toolStep } from '../../services/chain-executor/test/support/chain-builders.js';
import { toolFixture } from '../../services/tool-sandbox/test/fixtures/tool-fixture.js';
import { startMeshProcesses, type MeshProcesses } from '../support/mesh-processes.js';
import { statusCodeOf } from '../support/status-code.js';
import { until } from '../support/until.js';

const SERVICE_TOKENS = {
  'agent-host': 'svc-agent-host-0123456789abcdef',
  'tool-sandbox': 'svc-tool-sandbox-0123456789abcdef',
  'chain-executor': 'svc-chain-executor-0123456789abcd',
};

function rawCall(address: string, path: string, streaming: boolean, token: string | undefined): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const identity = (b: Buffer) => b;
  return new Promise((resolve) => {
    const done = (error: grpc.ServiceError | null) => {
      client.close();
      resolve(error);
    };
    const options = { deadline: Date.now() + 10_000 };
    if (streaming) {
      const call = client.makeServerStreamRequest(path, identity, identity, Buffer.alloc(0), metadata, options);
      call.on('data', () => {});
      call.on('error', done);
      call.on('end', () => done(null));
    } else {
      client.makeUnaryRequest(path, identity, identity, Buffer.alloc(0), metadata, options, (e) => done(e));
    }
  });
}

describe('security over the real mesh (ELIXIRCHAIN_AUTH=required)', function () {
  this.timeout(180_000);
  let dir: string;
  let mesh: MeshProcesses;
  let adminToken: string;
  const tokens: Record<string, string> = {};
  let privateKey: CryptoKey;
  const bearer = (token: string) => ({ metadata: { authorization: `Bearer ${token}` } });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-auth-'));
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] }));
    const tokenList = Object.entries(SERVICE_TOKENS).map(([s, t]) => `${s}=${t}`).join(',');
    const common = {
      ELIXIRCHAIN_AUTH: 'required',
      ELIXIRCHAIN_SERVICE_TOKENS: tokenList,
      ELIXIRCHAIN_JWT_JWKS_FILE: join(dir, 'jwks.json'),
      ELIXIRCHAIN_JWT_ISSUER: 'https://idp.test',
      ELIXIRCHAIN_JWT_AUDIENCE: 'elixirchain',
      // This test fails authentication hundreds of times from one address on purpose.
      ELIXIRCHAIN_AUTH_FAILED_PER_SECOND: '10000',
      ELIXIRCHAIN_AUTH_FAILED_BURST: '10000',
    };
    mesh = await startMeshProcesses(common, {
      memory: { ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE: join(dir, 'admin.key') },
      'tool-sandbox': { ELIXIRCHAIN_SERVICE_TOKEN: SERVICE_TOKENS['tool-sandbox'] },
      'agent-host': { ELIXIRCHAIN_SERVICE_TOKEN: SERVICE_TOKENS['agent-host'] },
      'chain-executor': { ELIXIRCHAIN_SERVICE_TOKEN: SERVICE_TOKENS['chain-executor'] },
    });
    adminToken = await until('the bootstrap admin key', () => (existsSync(join(dir, 'admin.key')) ? readFileSync(join(dir, 'admin.key'), 'utf8').trim() || undefined : undefined), 30_000);
    const admin = connect(AdminServiceDefinition, mesh.memory.address, bearer(adminToken));
    try {
      for (const [name, tenant, role] of [['acme', 'acme', 'developer'], ['globex', 'globex', 'developer'], ['revoked', 'acme', 'admin']] as const) {
        tokens[name] = (await admin.createApiKey({ tenant, role })).token;
      }
      const revoked = tokens.revoked!.split('_')[1]!;
      await admin.revokeApiKey({ id: revoked });
      tokens.expired = (await admin.createApiKey({ tenant: 'acme', role: 'admin', expireTime: new Date(Date.now() + 1500) })).token;
    } finally {
      admin.close();
    }
  });

  after(async () => {
    await mesh?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the bootstrap admin key works, and a key created through AdminService works on every service', async () => {
    for (const [definition, address] of [
      [AgentServiceDefinition, mesh.agentHost.address],
      [ChainServiceDefinition, mesh.chainExecutor.address],
      [ToolSandboxServiceDefinition, mesh.toolSandbox.address],
    ] as const) {
      const client = connect(definition as ServiceDefinition, address, bearer(tokens.acme!)) as unknown as Record<string, (req: object) => Promise<unknown>>;
      const list = Object.keys(definition.methods).find((m) => m.startsWith('list'))!;
      assert.equal(await statusCodeOf(client[list]!({})), 'ok', `${definition.fullName} ${list}`);
      (client as unknown as { close(): void }).close();
    }
  });

  it('refuses every RPC of every service without a token, with a revoked or an expired key, or a JWT of the wrong audience — alike', async () => {
    await new Promise((r) => setTimeout(r, 1600)); // let the expiring key expire
    const wrongAudience = await new SignJWT({ tenant: 'acme', role: 'admin' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('mallory')
      .setIssuer('https://idp.test')
      .setAudience('someone-else')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const targets: Array<[ServiceDefinition, string]> = [
      [AdminServiceDefinition, mesh.memory.address],
      [MemoryServiceDefinition, mesh.memory.address],
      [ToolSandboxServiceDefinition, mesh.toolSandbox.address],
      [AgentServiceDefinition, mesh.agentHost.address],
      [ChainServiceDefinition, mesh.chainExecutor.address],
    ];
    let checked = 0;
    for (const [definition, address] of targets) {
      for (const method of Object.values(definition.methods)) {
        for (const [label, token] of [['no token', undefined], ['revoked key', tokens.revoked], ['expired key', tokens.expired], ['wrong-audience JWT', wrongAudience]] as const) {
          const error = await rawCall(address, `/${definition.fullName}/${method.name}`, method.responseStream, token);
          assert.equal(error?.code, GrpcCode.UNAUTHENTICATED, `${definition.fullName}/${method.name} with ${label}: ${error?.message}`);
          assert.equal(error?.details, 'missing or invalid credentials');
          checked += 1;
        }
      }
    }
    assert.ok(checked > 150, `checked ${checked}`);
  });

  it('keeps tenant B out of tenant A’s threads and memories, through memory (threads, messages, namespaces, search, delete)', async () => {
    const acme = connect(MemoryServiceDefinition, mesh.memory.address, bearer(tokens.acme!));
    const globex = connect(MemoryServiceDefinition, mesh.memory.address, bearer(tokens.globex!));
    try {
      await acme.appendMessages({ threadId: 'plans', messages: [{ role: Role.ROLE_USER, content: 'acme only' }] });
      await acme.upsertMemories({ namespace: 'acme-notes', memories: [{ text: 'acme roadmap' }] });
      assert.equal(await statusCodeOf(globex.listMessages({ threadId: 'plans' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.searchMemories({ namespace: 'acme-notes', queryText: 'roadmap' })), GrpcCode.NOT_FOUND);
      assert.deepEqual((await globex.listThreads({})).threads, []);
      assert.deepEqual((await globex.listNamespaces({})).namespaces, []);
      assert.equal((await globex.deleteThread({ threadId: 'plans' })).deleted, false);
      assert.equal((await acme.listMessages({ threadId: 'plans' })).messages.length, 1);
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('keeps tools tenant-private (get, list, invoke, delete answer NOT_FOUND across tenants), shares what an admin publishes, and audits it', async () => {
    const sandbox = (token: string) => connect(ToolSandboxServiceDefinition, mesh.toolSandbox.address, bearer(token));
    const acme = sandbox(tokens.acme!);
    const globex = sandbox(tokens.globex!);
    const admin = sandbox(adminToken);
    const invoke = async (client: typeof acme, name: string) => {
      for await (const event of client.invokeTool({ name, input: {} })) if (event.event?.$case === 'result') return event.event.result.output;
      return undefined;
    };
    try {
      await acme.registerTool(toolFixture('acme-only', 'export default async () => "acme";'));
      assert.equal(await statusCodeOf(globex.getTool({ name: 'acme-only' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(invoke(globex, 'acme-only')), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.deleteTool({ name: 'acme-only' })), GrpcCode.NOT_FOUND);
      assert.ok(!(await globex.listTools({})).tools.some((t) => t.manifest?.name === 'acme-only'));
      assert.equal(await invoke(acme, 'acme-only'), 'acme');

      // The same name in two tenants is two tools.
      await globex.registerTool(toolFixture('acme-only', 'export default async () => "globex";'));
      assert.equal(await invoke(globex, 'acme-only'), 'globex');
      assert.equal(await invoke(acme, 'acme-only'), 'acme');

      // Shared tools: published by an admin, visible to every tenant, managed by admins only.
      assert.equal(await statusCodeOf(acme.registerTool({ ...toolFixture('everyone', 'export default async () => 1;'), shared: true })), GrpcCode.PERMISSION_DENIED);
      const published = await admin.registerTool({ ...toolFixture('everyone', 'export default async () => "shared";'), shared: true });
      assert.equal(published.tool?.shared, true);
      assert.equal(await invoke(acme, 'everyone'), 'shared');
      assert.equal((await globex.getTool({ name: 'everyone' })).tool?.shared, true);
      assert.ok((await globex.listTools({})).tools.some((t) => t.manifest?.name === 'everyone' && t.shared));
      assert.equal(await statusCodeOf(acme.deleteTool({ name: 'everyone' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(acme.deleteTool({ name: 'everyone', shared: true })), GrpcCode.PERMISSION_DENIED);

      const audit = connect(AdminServiceDefinition, mesh.memory.address, bearer(adminToken));
      const { events } = await audit.listAuditEvents({ action: 'tool.register', tenant: 'acme' });
      audit.close();
      const registered = events.find((e) => e.resource.startsWith('tool/acme-only@'));
      assert.ok(registered, 'the registration is in the audit log');
      assert.equal(registered.actorTenant, 'acme');
      assert.equal(registered.viaService, 'tool-sandbox');
      assert.equal(registered.actorSubject, tokens.acme!.split('_')[1]);
    } finally {
      acme.close();
      globex.close();
      admin.close();
    }
  });

  it('keeps agents and threads tenant-private on agent-host, and an agent’s tool calls reach its own tenant’s tools', async () => {
    const agents = (token: string) => connect(AgentServiceDefinition, mesh.agentHost.address, bearer(token));
    const acme = agents(tokens.acme!);
    const globex = agents(tokens.globex!);
    const turn = async (client: typeof acme, agentId: string, threadId: string) => {
      const results: unknown[] = [];
      let status = '';
      for await (const { event } of client.sendMessage({ agentId, threadId, content: 'go' })) {
        if (event?.event?.$case === 'toolCallCompleted') results.push(event.event.toolCallCompleted.result);
        if (event?.event?.$case === 'turnCompleted') status = String(event.event.turnCompleted.status);
      }
      return { results, status };
    };
    try {
      // Both tenants have a tool named acme-only (registered above) with different code.
      await acme.createAgent({ agent: { id: 'helper', tools: [{ name: 'acme-only' }], model: { provider: 'scripted' } } });
      const acmeTurn = await turn(acme, 'helper', 'acme-thread');
      assert.deepEqual(acmeTurn.results, ['acme'], `acme's agent called acme's tool (${acmeTurn.status})`);

      assert.equal(await statusCodeOf(globex.getAgent({ id: 'helper' })), GrpcCode.NOT_FOUND);
      assert.deepEqual((await globex.listAgents({})).agents, []);
      assert.equal(await statusCodeOf(turn(globex, 'helper', 'acme-thread')), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.deleteAgent({ id: 'helper' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.getThread({ threadId: 'acme-thread' })), GrpcCode.NOT_FOUND);
      const listed = await globex.listThreads({ agentId: 'helper' }).catch((e: ElixirError) => e);
      assert.ok(listed instanceof ElixirError ? listed.code === GrpcCode.NOT_FOUND : listed.threads.length === 0);
      const watched = await statusCodeOf((async () => {
        for await (const _ of globex.watchThread({ threadId: 'acme-thread' })) return 'saw an event';
      })());
      assert.notEqual(watched, 'ok', 'globex must not watch acme’s thread');

      // The same agent id in the other tenant is the other tenant's agent, with its tools.
      await globex.createAgent({ agent: { id: 'helper', tools: [{ name: 'acme-only' }], model: { provider: 'scripted' } } });
      assert.deepEqual((await turn(globex, 'helper', 'acme-thread')).results, ['globex']);
      assert.equal((await acme.listMessages({ threadId: 'acme-thread' })).messages.filter((m) => m.role === Role.ROLE_USER).length, 1);
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('keeps chains and runs tenant-private, and chain steps call their own tenant’s tools and agents', async () => {
    const chains = (token: string) => connect(ChainServiceDefinition, mesh.chainExecutor.address, bearer(token));
    const acme = chains(tokens.acme!);
    const globex = chains(tokens.globex!);
    const run = async (client: typeof acme, chainId: string) => {
      let runId = '';
      for await (const { event } of client.runChain({ chainId, input: {} })) runId ||= event?.runId ?? '';
      return (await client.getRun({ runId })).run!;
    };
    try {
      const definition = chainOf('steps', sequential('main', [toolStep('t', 'acme-only'), agentStep('a', 'helper', '"go"')]));
      await acme.createChain({ chain: definition });
      const acmeRun = await run(acme, 'steps');
      assert.match(JSON.stringify(acmeRun.output), /acme/, `acme's run: ${JSON.stringify(acmeRun)}`);
      assert.doesNotMatch(JSON.stringify(acmeRun.output), /globex/);

      assert.equal(await statusCodeOf(globex.getChain({ id: 'steps' })), GrpcCode.NOT_FOUND);
      assert.deepEqual((await globex.listChains({})).chains, []);
      assert.equal(await statusCodeOf(globex.startRun({ chainId: 'steps', input: {} })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.getRun({ runId: acmeRun.id })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.cancelRun({ runId: acmeRun.id })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.resumeRun({ runId: acmeRun.id })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf((async () => {
        for await (const _ of globex.watchRun({ runId: acmeRun.id })) return;
      })()), GrpcCode.NOT_FOUND);
      assert.deepEqual((await globex.listRuns({})).runs, []);
      const deleted = await globex.deleteChain({ id: 'steps' }).catch((e: ElixirError) => e);
      assert.ok(deleted instanceof ElixirError ? deleted.code === GrpcCode.NOT_FOUND : !deleted.deleted);
      assert.equal((await acme.getChain({ id: 'steps' })).chain?.id, 'steps');

      // The same chain in the other tenant runs the other tenant's tool and agent.
      await globex.createChain({ chain: definition });
      const globexRun = await run(globex, 'steps');
      assert.match(JSON.stringify(globexRun.output), /globex/);
      assert.doesNotMatch(JSON.stringify(globexRun.output), /"acme"/);
    } finally {
      acme.close();
      globex.close();
    }
  });

  it('manages keys from the CLI: keys create / list / revoke', async () => {
    const cli = (token: string, ...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', '--no-node-snapshot', join(process.cwd(), 'cli/src/main.ts'), ...args], {
        env: { ...process.env, ELIXIRCHAIN_MEMORY_ADDR: mesh.memory.address, ELIXIRCHAIN_TOKEN: token },
      });
    const created = JSON.parse((await cli(adminToken, '--json', 'keys', 'create', '--role', 'developer', '--tenant', 'acme', '--description', 'from the cli')).stdout) as { key: { id: string }; token: string };
    assert.match(created.token, /^ek_/);
    const memory = connect(MemoryServiceDefinition, mesh.memory.address, bearer(created.token));
    assert.equal(await statusCodeOf(memory.listThreads({})), 'ok');
    const listed = (await cli(adminToken, 'keys', 'list', '--tenant', 'acme')).stdout;
    assert.ok(listed.includes(created.key.id) && listed.includes('from the cli'));
    assert.ok(!listed.includes(created.token.slice(16)));
    const agents = connect(AgentServiceDefinition, mesh.agentHost.address, bearer(created.token));
    assert.equal(await statusCodeOf(agents.listAgents({})), 'ok');
    await cli(adminToken, 'keys', 'revoke', created.key.id);
    // At once on memory, which holds the keys; within the key cache time (5 s) on the other services.
    assert.equal(await statusCodeOf(memory.listThreads({})), GrpcCode.UNAUTHENTICATED);
    const revokedAt = Date.now();
    while ((await statusCodeOf(agents.listAgents({}))) !== GrpcCode.UNAUTHENTICATED) {
      assert.ok(Date.now() - revokedAt < 15_000, 'agent-host still accepts the revoked key after 15 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    memory.close();
    agents.close();
  });

  it('never writes a token or key secret to any service log', async () => {
    const secrets = [adminToken, ...Object.values(tokens), ...Object.values(SERVICE_TOKENS)].map((t) => (t.startsWith('ek_') ? t.slice(16) : t));
    const logs = mesh.all().map((s) => s.output()).join('\n');
    assert.ok(logs.includes('bootstrap admin key'), 'the logs were captured');
    for (const secret of secrets) {
      const line = logs.split('\n').find((l) => l.includes(secret));
      // Say where, never what: the message names the log line's service and message, not the secret.
      assert.equal(line, undefined, `a secret appeared in the service logs: ${line && line.replaceAll(secret, '<secret>').slice(0, 600)}`);
    }
  });
});
