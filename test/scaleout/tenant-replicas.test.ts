import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition, RunStatus } from '@elixirchain/proto/chain';
import { Role } from '@elixirchain/proto/memory';
import { connect, GrpcCode } from '@elixirchain/runtime';
import type { ServiceClient, SpawnedService } from '@elixirchain/runtime';
import { completedTurn, ScaleOutMesh } from './scaleout-mesh.js';
import { until } from '../support/until.js';
import { statusCodeOf } from '../support/status-code.js';

// Replica ownership for every tenant, not only "default": with ELIXIRCHAIN_AUTH=required and two tenants' API
// keys, over two agent-hosts and two chain-executors (real processes, leases in Redis), a tenant's agent is
// served by one replica (the other forwards to it, as the caller), each tenant's agent of the same id has its
// own lease, one tenant's call never reaches another tenant's agent, and kill -9 of the owner moves the
// tenant's run and agent (with its unfinished turn) to the survivor after the lease ttl.
const LEASE_TTL_MS = 2000;
const SERVICE_TOKENS: Record<string, string> = {
  'agent-host': 'svc-agent-host-tenant-replicas-0123',
  'tool-sandbox': 'svc-tool-sandbox-tenant-replicas-01',
  'chain-executor': 'svc-chain-executor-tenant-replicas',
};
const text = (t: string, chunkSize = 0, delayMs = 0) => ({ chunkSize, event: { $case: 'text' as const, text: t }, delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } });



type AgentClient = ServiceClient<typeof AgentServiceDefinition>;
type ChainClient = ServiceClient<typeof ChainServiceDefinition>;

describe('scale-out: every tenant’s agents and runs have one owning replica (auth required, real processes)', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'tenant-replicas-'));
  const mesh = new ScaleOutMesh({
    agentHosts: 2,
    chainExecutors: 2,
    leaseTtlMs: LEASE_TTL_MS,
    takeoverScanMs: 200,
    env: (service) => ({
      ELIXIRCHAIN_AUTH: 'required',
      ELIXIRCHAIN_SERVICE_TOKENS: Object.entries(SERVICE_TOKENS).map(([s, t]) => `${s}=${t}`).join(','),
      ...(SERVICE_TOKENS[service] ? { ELIXIRCHAIN_SERVICE_TOKEN: SERVICE_TOKENS[service] } : {}),
      ...(service === 'memory' ? { ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE: join(dir, 'admin.key') } : {}),
    }),
  });
  const keys: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
  const opened: Array<{ close(): void }> = [];
  const agentsOf = (tenant: 'acme' | 'globex', replica: SpawnedService): AgentClient => {
    const client = connect(AgentServiceDefinition, replica.address, { metadata: { authorization: `Bearer ${keys[tenant]}` } });
    opened.push(client);
    return client;
  };
  const chainsOf = (tenant: 'acme' | 'globex', replica: SpawnedService): ChainClient => {
    const client = connect(ChainServiceDefinition, replica.address, { metadata: { authorization: `Bearer ${keys[tenant]}` } });
    opened.push(client);
    return client;
  };
  const history = async (client: AgentClient, threadId: string) => (await client.listMessages({ threadId, pageSize: 100 })).messages.map((m) => [m.role, m.content]);

  before(async () => {
    await mesh.start();
    const adminKey = await until('the bootstrap admin key', () => (existsSync(join(dir, 'admin.key')) ? readFileSync(join(dir, 'admin.key'), 'utf8').trim() || undefined : undefined), 60_000);
    const admin = connect(AdminServiceDefinition, mesh.memory.address, { metadata: { authorization: `Bearer ${adminKey}` } });
    try {
      for (const tenant of ['acme', 'globex'] as const) keys[tenant] = (await admin.createApiKey({ tenant, role: 'developer' })).token;
    } finally {
      admin.close();
    }
    const [h0] = mesh.agentHosts;
    // The same agent id in both tenants, answering differently; and one agent only globex has.
    await agentsOf('acme', h0).createAgent({ agent: { id: 'helper', model: { provider: 'scripted', script: [{ events: [text('acme answers')] }] } } });
    await agentsOf('globex', h0).createAgent({ agent: { id: 'helper', model: { provider: 'scripted', script: [{ events: [text('globex answers')] }] } } });
    await agentsOf('globex', h0).createAgent({ agent: { id: 'globex-only', model: { provider: 'scripted', script: [{ events: [text('globex only')] }] } } });
  });
  after(async () => {
    for (const c of opened) c.close();
    await mesh.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a tenant’s turn sent to the replica that does not own the agent is forwarded to the owner and served once', async () => {
    const [h0, h1] = mesh.agentHosts;
    assert.equal(await completedTurn(agentsOf('acme', h0), 'helper', 'acme-t', 'one'), 'acme answers');
    // The tenant's agent has a lease of its own, taken by the replica that served it.
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address);
    assert.equal(await mesh.leaseHolder('agent/helper'), undefined, 'not the default tenant’s lease');
    // Through the other replica: forwarded, the owner keeps it.
    assert.equal(await completedTurn(agentsOf('acme', h1), 'helper', 'acme-t', 'two'), 'acme answers');
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address);
    const expected = [[Role.ROLE_USER, 'one'], [Role.ROLE_ASSISTANT, 'acme answers'], [Role.ROLE_USER, 'two'], [Role.ROLE_ASSISTANT, 'acme answers']];
    assert.deepEqual(await history(agentsOf('acme', h1), 'acme-t'), expected);
  });

  it('tenants’ agents of the same id have their own owners, and a forwarded call acts for its caller’s tenant only', async () => {
    const [h0, h1] = mesh.agentHosts;
    // globex's "helper" is taken by the other replica: a lease apart from acme's.
    assert.equal(await completedTurn(agentsOf('globex', h1), 'helper', 'globex-t', 'hello'), 'globex answers');
    assert.equal(await mesh.leaseHolder('agent/globex/helper'), h1.address);
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address);
    // Each call crosses to its tenant's owner and gets its tenant's agent.
    assert.equal(await completedTurn(agentsOf('acme', h1), 'helper', 'acme-t', 'three'), 'acme answers');
    assert.equal(await completedTurn(agentsOf('globex', h0), 'helper', 'globex-t', 'again'), 'globex answers');
    // globex-only is owned by h1; acme cannot reach it through either replica, nor globex's thread.
    assert.equal(await completedTurn(agentsOf('globex', h1), 'globex-only', 'globex-only-t', 'hi'), 'globex only');
    assert.equal(await mesh.leaseHolder('agent/globex/globex-only'), h1.address);
    for (const replica of [h0, h1]) {
      const acme = agentsOf('acme', replica);
      assert.equal(await statusCodeOf(completedTurn(acme, 'globex-only', 'acme-probe', `probe-${replica.address}`)), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(acme.getThread({ threadId: 'globex-t' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(acme.listMessages({ threadId: 'globex-only-t', pageSize: 10 })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(acme.cancelTurn({ threadId: 'globex-t', turnId: '' })), GrpcCode.NOT_FOUND);
    }
    assert.equal(await mesh.leaseHolder('agent/globex/globex-only'), h1.address, 'acme’s calls did not move globex’s agent');
    assert.equal(await mesh.leaseHolder('agent/acme/globex-only'), undefined, 'nor left a lease of their own behind');
    assert.deepEqual(await history(agentsOf('globex', h0), 'globex-t'), [
      [Role.ROLE_USER, 'hello'],
      [Role.ROLE_ASSISTANT, 'globex answers'],
      [Role.ROLE_USER, 'again'],
      [Role.ROLE_ASSISTANT, 'globex answers'],
    ]);
    assert.deepEqual(await history(agentsOf('globex', h1), 'globex-only-t'), [[Role.ROLE_USER, 'hi'], [Role.ROLE_ASSISTANT, 'globex only']]);
  });

  it('kill -9 of the chain-executor running a tenant’s run: the survivor takes the run over after the ttl and finishes it', async () => {
    const [e0, e1] = mesh.chainExecutors;
    // The agent step takes about 3 s: the kill lands mid-run.
    const slowPieces = Array.from({ length: 20 }, (_, i) => `s${i} `);
    const slowReply = slowPieces.join('');
    await agentsOf('acme', mesh.agentHosts[0]).createAgent({ agent: { id: 'slow', model: { provider: 'scripted', script: [{ events: slowPieces.map((p) => text(p, 0, 150)) }] } } });
    const chains = chainsOf('acme', e0);
    await chains.createChain({ chain: { id: 'ask-slow', root: { id: 'ask', kind: { $case: 'agent', agent: { agentId: 'slow', message: '"go"', threadId: '' } } } } });
    const run = (await chains.startRun({ chainId: 'ask-slow', input: {}, requestId: 'tenant-run-1' })).run!;
    const resource = `run/acme/${run.id}`;
    assert.equal(await until('e0 to hold the run', async () => (await mesh.leaseHolder(resource)) === e0.address || undefined, 60_000), true);
    assert.equal(await mesh.leaseHolder(`run/${run.id}`), undefined, 'not the default tenant’s lease');
    // A watch through the other executor is forwarded to the owner as the caller.
    const watch = chainsOf('acme', e1).watchRun({ runId: run.id, afterSequence: 0 });
    for await (const res of watch) {
      assert.ok(res.event?.event?.$case, 'an event of the run');
      break;
    }
    await e0.kill();
    const survivor = chainsOf('acme', e1);
    const done = await until('the run to finish on e1', async () => {
      const r = (await survivor.getRun({ runId: run.id })).run!;
      return r.status === RunStatus.RUN_STATUS_SUCCEEDED || r.status === RunStatus.RUN_STATUS_FAILED ? r : undefined;
    }, 60_000);
    assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
    assert.equal(done.output, slowReply);
    // Its log, read through the survivor: started on e0, resumed once on e1, no sequence twice.
    const log = [];
    for await (const res of survivor.watchRun({ runId: run.id, afterSequence: 0 })) log.push(res.event!);
    assert.deepEqual(log.map((e) => e.sequence), log.map((_, i) => i + 1));
    assert.equal(log.filter((e) => e.event?.$case === 'runStarted').length, 2, 'started on e0, resumed on e1');
    assert.equal(await statusCodeOf(chainsOf('globex', e1).getRun({ runId: run.id })), GrpcCode.NOT_FOUND, 'the run is acme’s only');
  });

  it('kill -9 of the agent-host owning a tenant’s agent mid-turn: the survivor takes it over after the ttl and finishes the turn once', async () => {
    const [h0, h1] = mesh.agentHosts;
    // Twenty pieces 150 ms apart: the kill lands mid-turn.
    const pieces = Array.from({ length: 20 }, (_, i) => `p${i} `);
    const reply = pieces.join('');
    await agentsOf('acme', h0).createAgent({ agent: { id: 'mover', model: { provider: 'scripted', script: [{ events: pieces.map((p) => text(p, 0, 150)) }] } } });
    let streaming = false;
    const first = (async () => {
      for await (const res of agentsOf('acme', h0).sendMessage({ agentId: 'mover', threadId: 'mover-t', content: 'go', requestId: 'mover-go' })) {
        if (res.event?.event?.$case === 'textDelta') streaming = true;
      }
    })().catch((e: unknown) => e);
    await until('the turn streaming on h0', () => streaming || undefined, 60_000);
    assert.equal(await mesh.leaseHolder('agent/acme/mover'), h0.address);
    await h0.kill();
    await first;
    await until('h1 to take the agent over', async () => (await mesh.leaseHolder('agent/acme/mover')) === h1.address || undefined, 30_000);
    const acme = agentsOf('acme', h1);
    await until('the turn to finish on h1', async () => (await acme.getThread({ threadId: 'mover-t' })).thread?.currentTurnId === '' || undefined, 30_000);
    assert.deepEqual(await history(acme, 'mover-t'), [[Role.ROLE_USER, 'go'], [Role.ROLE_ASSISTANT, reply]], 'one user message, one answer');
  });
});
