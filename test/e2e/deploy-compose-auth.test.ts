// The production compose stack's authentication, for real, without Docker:
// the four services and the console run as processes with exactly the
// environment deploy/docker-compose.yml gives their containers. Secrets are
// the files the documented command creates, mounted paths (/run/secrets/…,
// named volumes) point into a temporary directory, peers are on loopback.
// Only what is not ours is left out: MongoDB (memory uses its default store)
// and the OpenTelemetry collector.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, GrpcCode, spawnService, type SpawnedService } from '@elixirchain/runtime';
import { statusCodeOf } from '../support/status-code.js';

const REPO_ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEPLOY = path.join(REPO_ROOT, 'deploy');
const TSX = import.meta.resolve('tsx');
const MESH = ['memory', 'tool-sandbox', 'agent-host', 'chain-executor'] as const;
// Hosts of the stack's infrastructure this test does not run, and the variables that name them.
const NOT_STARTED = { ELIXIRCHAIN_STORE: /^mongodb:\/\/mongo:/, OTEL_EXPORTER_OTLP_ENDPOINT: /^http:\/\/otel-collector:/ };

type ComposeService = { command: string[]; environment: Record<string, string>; secrets?: string[]; volumes?: string[] };
type Compose = { services: Record<string, ComposeService>; secrets: Record<string, { file: string }>; volumes: Record<string, unknown> };

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

function run(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${timeoutMs / 1000} s\n${out}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}


describe('e2e: deploy/docker-compose.yml runs the mesh authenticated (processes with the compose environment)', function () {
  this.timeout(120_000);
  const compose = parse(readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
  let dir: string;
  const ports = new Map<number, number>(); // container port → free loopback port
  const started: SpawnedService[] = [];
  const address: Record<string, string> = {};
  let adminKey: string;

  /** What the container of `service` sees, made to run here: secrets, volumes, addresses. */
  function environmentOf(service: string): Record<string, string> {
    const s = compose.services[service]!;
    // Mount targets → files and directories in the temporary directory. Secrets the service does not list are not mounted.
    const mounts: Array<[string, string]> = (s.secrets ?? []).map((name) => [`/run/secrets/${name}`, path.resolve(dir, 'deploy', compose.secrets[name]!.file)]);
    const directories: Array<[string, string]> = [];
    for (const volume of s.volumes ?? []) {
      const [source, target] = volume.split(':') as [string, string];
      if (source in compose.volumes) directories.push([target, path.join(dir, 'volumes', source)]);
    }
    // The image sets ELIXIRCHAIN_DATA_DIR=/data (a volume of its own unless compose names one).
    directories.push(['/data', path.join(dir, 'data', service)]);
    for (const [, local] of directories) mkdirSync(local, { recursive: true });
    mounts.push(...directories);
    const env: Record<string, string> = { ELIXIRCHAIN_DATA_DIR: '/data' };
    for (const [name, raw] of Object.entries(s.environment)) {
      const pattern = NOT_STARTED[name as keyof typeof NOT_STARTED];
      if (pattern) {
        assert.match(raw, pattern, `${service}: ${name}`);
        continue;
      }
      // ${VAR:-default} from the operator's shell or .env: the defaults.
      let value = raw.replace(/\$\{[A-Z0-9_]+(?::-([^}]*))?\}/g, (_m, fallback: string | undefined) => fallback ?? '');
      const hostPort = /^([a-z0-9.-]+):(\d+)$/.exec(value);
      if (name.endsWith('_ADDR') && hostPort && (hostPort[1] === '0.0.0.0' || hostPort[1]! in compose.services)) {
        value = `127.0.0.1:${ports.get(Number(hostPort[2]))}`;
      }
      env[name] = value;
    }
    for (const [name, value] of Object.entries(env)) {
      const mount = mounts.find(([target]) => value === target || value.startsWith(`${target}/`));
      if (mount) env[name] = mount[1] + value.slice(mount[0].length);
      for (const host of Object.keys(compose.services)) assert.ok(!env[name]!.includes(`${host}:`), `${service}: ${name}=${env[name]} still names a compose host`);
    }
    return env;
  }

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(path.join(tmpdir(), 'compose-auth-'));
    // The operator's one-line command from the file's header, run where compose would find the files.
    const command = /^#\s+(mkdir .*deploy\/secrets.*)$/m.exec(readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8'))?.[1];
    assert.ok(command, 'the compose file documents how to create its secrets');
    execFileSync('sh', ['-c', command], { cwd: dir });
    for (const [name, { file }] of Object.entries(compose.secrets)) assert.ok(existsSync(path.resolve(dir, 'deploy', file)), `the command creates secret ${name}`);
    for (const port of [50051, 50052, 50053, 50054, 8080]) ports.set(port, await freePort());
    const start = async (service: string) => {
      const spawned = await spawnService({ entry: path.join(REPO_ROOT, compose.services[service]!.command[0]!), env: environmentOf(service), cwd: REPO_ROOT });
      started.push(spawned);
      address[service] = spawned.address;
    };
    // memory first (the others verify keys there), then the rest together: their addresses are fixed already.
    // Every start settles before a failure is thrown, so after() stops whatever did start.
    await start('memory');
    const failed = (await Promise.allSettled(MESH.slice(1).map(start))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const keyFile = path.join(dir, 'volumes', 'bootstrap-admin-key', 'admin.key');
    for (const until = Date.now() + 15_000; !existsSync(keyFile) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
    adminKey = readFileSync(keyFile, 'utf8').trim();
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the bootstrap key file is private to the service user');
  });

  after(async () => {
    for (const s of started.reverse()) await s.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every service refuses a call without a token, or with a wrong one, as UNAUTHENTICATED', async () => {
    const calls = [
      [MemoryServiceDefinition, 'memory', 'listThreads'],
      [ToolSandboxServiceDefinition, 'tool-sandbox', 'listTools'],
      [AgentServiceDefinition, 'agent-host', 'listAgents'],
      [ChainServiceDefinition, 'chain-executor', 'listChains'],
    ] as const;
    for (const [definition, service, method] of calls) {
      for (const metadata of [{}, { authorization: `Bearer ek_nope_${'x'.repeat(32)}` }] as Array<Record<string, string>>) {
        const client = connect(definition, address[service]!, { metadata }) as unknown as Record<string, (req: object) => Promise<unknown>> & { close(): void };
        try {
          assert.equal(await statusCodeOf(client[method]!({})), GrpcCode.UNAUTHENTICATED, `${service} ${method} with ${JSON.stringify(metadata)}`);
        } finally {
          client.close();
        }
      }
    }
  });

  it('the image health check (gRPC health, no credentials) reports every service SERVING', async () => {
    for (const service of MESH) {
      const env = environmentOf(service);
      const result = await run([path.join(DEPLOY, 'grpc-health-probe.mjs')], { ELIXIRCHAIN_SERVICE: env.ELIXIRCHAIN_SERVICE!, ...Object.fromEntries(Object.entries(env).filter(([k]) => k.endsWith('_ADDR'))) });
      assert.deepEqual(result, { code: 0, out: `${service}: SERVING\n` });
    }
  });

  it('the seed-demo job seeds with the bootstrap admin key, and a turn through agent-host reaches memory and tool-sandbox as services', async () => {
    const seedEnv = environmentOf('seed-demo');
    const seed = await run(['--import', TSX, '--no-node-snapshot', ...compose.services['seed-demo']!.command], seedEnv);
    assert.equal(seed.code, 0, seed.out);
    assert.match(seed.out, /demo agent (created|updated|unchanged)/);
    // The operator's CLI with the same key: agent-host stores the turn in memory and runs the tool in tool-sandbox with its token.
    const chat = await run(['--import', TSX, '--no-node-snapshot', 'cli/src/main.ts', 'chat', 'demo', '--message', 'what is 2+3?'], { ...seedEnv, ELIXIRCHAIN_TOKEN_FILE: '', ELIXIRCHAIN_TOKEN: adminKey });
    assert.equal(chat.code, 0, chat.out);
    assert.match(chat.out, /✓ calculator/);
    assert.match(chat.out, /"value":5\b/);
    assert.match(chat.out, /\(completed · /);
    const thread = /thread: (\S+)/.exec(chat.out)![1]!;
    const memory = connect(MemoryServiceDefinition, address.memory!, { metadata: { authorization: `Bearer ${adminKey}` } });
    try {
      const { messages } = await memory.listMessages({ threadId: thread });
      assert.ok(messages.length >= 2, 'the turn is in memory');
    } finally {
      memory.close();
    }
  });

  it('the console gateway serves its health check openly and passes each browser’s own API key on', async () => {
    const consoleProcess = spawn(process.execPath, ['--import', TSX, '--no-node-snapshot', compose.services.console!.command[0]!], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...environmentOf('console') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    consoleProcess.stdout.on('data', (d) => (out += d));
    consoleProcess.stderr.on('data', (d) => (out += d));
    try {
      const base = `http://127.0.0.1:${ports.get(8080)}`;
      for (const until = Date.now() + 30_000; !/console listening/.test(out); ) {
        assert.ok(Date.now() < until && consoleProcess.exitCode === null, `the console did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await fetch(`${base}/api/config`)).status, 200, 'the compose health check passes without credentials');
      assert.equal((await fetch(`${base}/api/agents`)).status, 401);
      const listed = await fetch(`${base}/api/agents`, { headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(listed.status, 200);
      assert.ok(((await listed.json()) as { agents: Array<{ id: string }> }).agents.some((a) => a.id === 'demo'));
    } finally {
      consoleProcess.kill('SIGTERM');
      if (consoleProcess.exitCode === null) await new Promise((r) => consoleProcess.once('exit', r));
    }
  });
});
