// The scaleout suite: agent turn throughput with one vs two agent-host replicas
// on the same machine (leases in Redis, one memory, one tool-sandbox, all real
// processes), the cost of fencing (one replica with leases vs without), and the
// latency a forwarded request adds (sent to the replica that does not own the
// agent, which relays it to the owner).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { connect, connectRedis, type ServiceClient } from '@elixirchain/runtime';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';
import { CpuMeter, describeError, freePort, progress, runLoad, spawnServiceProcess, warmUp, type Row, type ServiceProcess, type SuiteOptions, type SuiteResult } from '../harness/index.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const entry = (service: string) => join(REPO, 'services', service, 'src', 'main.ts');
const REDIS_URL = process.env.ELIXIRCHAIN_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const IN_FLIGHT = 64;
const REPLY = 'The answer is five, computed by the tool.';

type AgentClient = ServiceClient<typeof AgentServiceDefinition>;

/** One turn: a scripted reply in 5 chunks, checked to have arrived whole. */
async function turn(client: AgentClient, agentId: string, threadId: string): Promise<void> {
  let text = '';
  let status: TurnStatus | undefined;
  for await (const res of client.sendMessage({ agentId, threadId, content: 'What is 2 + 3?' })) {
    const e = res.event?.event;
    if (e?.$case === 'textDelta') text += e.textDelta.text;
    if (e?.$case === 'turnCompleted') status = e.turnCompleted.status;
  }
  if (status !== TurnStatus.TURN_STATUS_COMPLETED || text !== REPLY) throw new Error(`turn of ${agentId} ended ${status}: "${text}"`);
}

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const measureMs = opts.quick ? 300 : 3_000;
  const iterations = opts.quick ? 40 : 100_000;
  const agentsPerRow = opts.quick ? 8 : IN_FLIGHT;
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-scaleout-'));
  const prefix = `bench-scaleout-${randomBytes(4).toString('hex')}:`;
  const redis = await connectRedis(REDIS_URL);
  const loadAtStart = loadavg()[0];
  const processes: ServiceProcess[] = [];
  const clients: AgentClient[] = [];
  let sandbox: ToolSandboxServer | undefined;
  const spawn = async (name: string, service: string, env: Record<string, string>) => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const variable = { memory: 'ELIXIRCHAIN_MEMORY_ADDR', 'tool-sandbox': 'ELIXIRCHAIN_TOOL_SANDBOX_ADDR', 'agent-host': 'ELIXIRCHAIN_AGENT_HOST_ADDR' }[service]!;
    const p = await spawnServiceProcess({ name, entry: entry(service), address, env: { ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_LOG_LEVEL: 'warn', ...env, [variable]: address }, readyTimeoutMs: 60_000 });
    processes.push(p);
    return p;
  };
  try {
    progress('scaleout: starting memory and the agent-hosts');
    const memory = await spawn('memory', 'memory', {});
    // The turns use no tool: tool-sandbox only has to exist, so it runs in this process (one spawn less).
    sandbox = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.address });
    const peers = { ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: sandbox.address, ELIXIRCHAIN_AGENT_IDLE_MS: '0' };
    const leases = { ELIXIRCHAIN_REDIS_URL: REDIS_URL, ELIXIRCHAIN_REDIS_PREFIX: prefix, ELIXIRCHAIN_LEASE_TTL_MS: '10000' };
    const client = (p: ServiceProcess) => {
      const c = connect(AgentServiceDefinition, p.address);
      clients.push(c);
      return c;
    };
    const script = [{ events: [{ chunkSize: Math.ceil(REPLY.length / 5), event: { $case: 'text' as const, text: REPLY } }] }];

    /** Agents for one row, created through the first owner and each first touched (so owned) through `owners[i % owners.length]`. */
    const agentsFor = async (row: string, owners: AgentClient[]) => {
      const ids = Array.from({ length: agentsPerRow }, (_, i) => `${row}-${i}`);
      for (const id of ids) await owners[0].createAgent({ agent: { id, model: { provider: 'scripted', script } }, requestId: `create-${id}` });
      await Promise.all(ids.map((id, i) => turn(owners[i % owners.length], id, `${id}-t0`)));
      return ids;
    };

    const measure = async (rowId: string, label: string, replicas: string, ids: string[], route: (i: number) => AgentClient, pids: Record<string, number>) => {
      progress(`scaleout: ${label}`);
      const op = (i: number) => turn(route(i % ids.length), ids[i % ids.length], `${ids[i % ids.length]}-t${i % 4}`);
      await warmUp(op, opts.quick ? 4 : 50, 8);
      const sequential = await runLoad(op, { iterations: opts.quick ? 10 : 400, timeBudgetMs: measureMs / 2, inFlight: 1 });
      const meter = new CpuMeter(pids);
      const loaded = await runLoad(op, { iterations, timeBudgetMs: measureMs, inFlight: ids.length });
      const cpu = meter.stop();
      const cpuPerTurn = Object.values(cpu).reduce((s, v) => s + v, 0) / Math.max(1, loaded.completed);
      rows.push({
        row: rowId,
        'agent-hosts': replicas,
        requests: label,
        'turns/s sequential': Math.round(sequential.opsPerSecond),
        'p50 ms': Number(sequential.latency.p50.toFixed(2)),
        'p99 ms': Number(sequential.latency.p99.toFixed(2)),
        [`turns/s, ${ids.length} in flight`]: Math.round(loaded.opsPerSecond),
        [`p50 ms, ${ids.length} in flight`]: Number(loaded.latency.p50.toFixed(1)),
        'CPU ms/turn (all processes)': Number(cpuPerTurn.toFixed(2)),
      });
      notes.push(`${rowId}: CPU ms by process over the loaded run: ${Object.entries(cpu).map(([n, ms]) => `${n} ${Math.round(ms)}`).join(', ')}; ${loaded.completed} turns`);
      return loaded;
    };

    const shared = { memory: memory.pid };

    // The lease-less agent-host runs alone: replicas with leases would take over
    // its turns in flight (nobody holds their leases), as they must for a dead replica's.
    const plain = await spawn('agent-host (no leases)', 'agent-host', peers);
    const cplain = client(plain);
    const one = await measure('one-no-leases', 'all to the only agent-host (no leases: today’s single replica)', '1', await agentsFor('plain', [cplain]), () => cplain, { ...shared, 'agent-host': plain.pid });
    await plain.stop();
    const [a, b] = await Promise.all([spawn('agent-host A', 'agent-host', { ...peers, ...leases }), spawn('agent-host B', 'agent-host', { ...peers, ...leases })]);
    const [ca, cb] = [client(a), client(b)];
    const oneLeased = await measure('one-leases', 'all to A, which owns every agent (leases + fencing)', '1 (of 2 running)', await agentsFor('single', [ca]), () => ca, { ...shared, A: a.pid, B: b.pid });
    const spreadIds = await agentsFor('spread', [ca, cb]);
    const two = await measure('two-owner', 'each to the agent’s owner (agents split A/B)', '2', spreadIds, (i) => (i % 2 === 0 ? ca : cb), { ...shared, A: a.pid, B: b.pid });
    const forwarded = await measure('two-forwarded', 'each to the replica that does NOT own the agent (one forwarding hop)', '2', spreadIds, (i) => (i % 2 === 0 ? cb : ca), { ...shared, A: a.pid, B: b.pid });

    const ratio = (x: number, y: number) => (y > 0 ? (x / y).toFixed(2) : '—');
    const seqRow = (id: string) => rows.find((r) => r.row === id)!;
    notes.push(
      `two replicas vs one (both with leases), ${agentsPerRow} turns in flight: ×${ratio(two.opsPerSecond, oneLeased.opsPerSecond)} turns/s, on ${cpus().length} cores shared by every process of the mesh and the client. A second agent-host here can only use CPU the first one left idle (while it waits on memory); on separate machines each replica brings its own cores, and memory/PostgreSQL become the shared limit.`,
      `fencing cost, one replica: leases + ownership record on every checkpoint vs none: ×${ratio(oneLeased.opsPerSecond, one.opsPerSecond)} turns/s.`,
      `forwarding to the owner adds ${(Number(seqRow('two-forwarded')['p50 ms']) - Number(seqRow('two-owner')['p50 ms'])).toFixed(2)} ms at p50 one at a time (${seqRow('two-owner')['p50 ms']} → ${seqRow('two-forwarded')['p50 ms']} ms) and costs ×${ratio(forwarded.opsPerSecond, two.opsPerSecond)} turns/s under load (the relaying replica decodes and re-encodes every event).`,
      'Workload: scripted model, reply in 5 chunks, no tool; one thread per agent; memory on SQLite in a temp dir, leases in the local Redis. Each loaded row runs as many turns in flight as it has agents.',
    );
    notes.push(`machine load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end, on ${cpus().length} cores: other work on the machine moves every number here; compare rows of one run only.`);
    if (opts.quick) notes.push('quick run: tiny counts, the numbers mean nothing');
  } catch (error) {
    rows.push({ row: 'scaleout', result: 'failed', reason: describeError(error) });
  } finally {
    for (const c of clients) c.close();
    await sandbox?.stop();
    await Promise.all(processes.map((p) => p.stop()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { suite: 'scaleout', rows, notes };
}
