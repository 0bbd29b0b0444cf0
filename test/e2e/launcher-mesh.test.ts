import assert from 'node:assert/strict';
import path from 'node:path';
import { TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { RunStatus } from '@elixirchain/proto/chain';
import { Role, type Message } from '@elixirchain/proto/memory';
import { runTurn, type TurnOutcome } from '../../cli/src/chat/turn-stream.js';
import { MeshClients } from '../../cli/src/mesh/mesh-clients.js';
import type { ServiceName } from '../../cli/src/launcher/service-catalog.js';
import { LaunchedMesh, REPO_ROOT, isAlive } from './support/launched-mesh.js';
import { until } from '../support/until.js';
import { describePythonExample } from './python-example.js';

// kill -9 of each service during a turn, and a SIGTERM of agent-host: the
// drain of a rolling restart, after which the client re-attaches.
const FAULTS = [
  { name: 'tool-sandbox', signal: 'SIGKILL', label: 'kill -9' },
  { name: 'memory', signal: 'SIGKILL', label: 'kill -9' },
  { name: 'agent-host', signal: 'SIGKILL', label: 'kill -9' },
  { name: 'agent-host', signal: 'SIGTERM', label: 'SIGTERM, rolling restart' },
].map((f) => ({ ...f, name: f.name as ServiceName, signal: f.signal as NodeJS.Signals, agent: `e2e-slow-${f.name}-${f.signal.toLowerCase()}` }));

// The whole product as a newcomer meets it: `elixirchain start` launching the
// four real services as processes, the CLI talking to them, faults injected
// with kill -9, and SIGTERM ending it all. One mesh for the file, so the
// suite's wall time stays near two minutes.
describe('e2e: the mesh started by the launcher', function () {
  this.timeout(180_000);
  let mesh: LaunchedMesh;
  let clients: MeshClients;

  before(async function () {
    this.timeout(150_000);
    mesh = await LaunchedMesh.start();
    clients = new MeshClients(mesh.addresses);
  });

  after(async function () {
    clients?.close();
    mesh?.forceCleanup();
  });

  describe('the offline demo', () => {
    it('`chat demo --message "what is 2+3?"` streams text and shows a tool call', async () => {
      const res = await mesh.cli(['chat', 'demo', '--message', 'what is 2+3?']);
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /^demo › /m, 'streamed assistant text');
      assert.match(res.stdout, /⚙ calculator@\d+\.\d+\.\d+ \{"expression":/, 'the tool call as it starts');
      assert.match(res.stdout, /⚙ calculator@\d+\.\d+\.\d+ \{"expression":"2\+3"/, 'the scripted model passes the arithmetic, not the sentence');
      assert.match(res.stdout, /✓ calculator/, 'the tool call succeeds');
      assert.match(res.stdout, /"value":5\b/, 'the reply uses the result');
      assert.match(res.stdout, /\(completed · 2 model calls · 1 tool call/);
      assert.match(res.stderr, /thread: \S+/);
    });

    it('streams the same turn as JSON events for scripts, text in more than one delta', async () => {
      const res = await mesh.cli(['chat', 'demo', '--json', '--message', 'what is 6*7?']);
      assert.equal(res.code, 0, res.stderr);
      const events = res.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event?: { $case: string } } & { result?: TurnOutcome });
      const cases = events.map((e) => e.event?.$case).filter(Boolean);
      assert.ok(cases.filter((c) => c === 'textDelta').length >= 2, `several text deltas: ${cases.join(',')}`);
      assert.ok(cases.indexOf('toolCallStarted') < cases.indexOf('toolCallCompleted'));
      assert.equal(cases[cases.length - 1], 'turnCompleted');
      const sequences = events.filter((e) => e.event).map((e) => (e as unknown as ThreadEvent).sequence);
      assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'events in sequence order');
      assert.equal(events[events.length - 1]!.result?.status, TurnStatus.TURN_STATUS_COMPLETED);
    });

    it('`status` reports every service SERVING; a bad agent id fails with a one-line NOT_FOUND', async () => {
      const status = await mesh.cli(['status', '--json']);
      assert.equal(status.code, 0, status.stdout);
      assert.deepEqual((JSON.parse(status.stdout) as { services: { status: string }[] }).services.map((s) => s.status), ['SERVING', 'SERVING', 'SERVING', 'SERVING']);
      const missing = await mesh.cli(['agents', 'get', 'no-such-agent']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^error: NOT_FOUND( \([A-Z_]+\))?: .*no-such-agent/m);
      assert.equal(missing.stderr.trim().split('\n').length, 1, 'one line');
    });

    it('creates an agent from a YAML file and lists it', async () => {
      const file = path.join(REPO_ROOT, 'examples', 'agents', 'primes.yaml');
      const created = await mesh.cli(['agents', 'create', '--file', file, '--json']);
      assert.equal(created.code, 0, created.stderr);
      assert.equal((JSON.parse(created.stdout) as { id: string }).id, 'primes');
      const listed = (await clients.agents().listAgents({ pageSize: 100 })).agents.map((a) => a.id);
      assert.ok(listed.includes('primes') && listed.includes('demo'), listed.join(', '));
    });
  });

  describePythonExample(() => mesh);

  // A turn (and a chain run) is in flight when each service is killed with
  // SIGKILL; the launcher restarts it, and nothing the mesh had accepted is lost.
  describe('faults during work: kill -9 of each service, SIGTERM of agent-host', () => {
    let baselineThread: string;
    let baseline: Message[];

    before(async () => {
      // One agent per fault, so one service's failure to recover does not cascade into the next case.
      for (const id of ['e2e-slow', ...FAULTS.map((f) => f.agent)]) {
        await clients.agents().createAgent({ agent: slowAgent(id), requestId: `create-${id}` });
      }
      const outcome = await turn('e2e-slow', 'count the primes');
      assert.equal(outcome.status, TurnStatus.TURN_STATUS_COMPLETED);
      baselineThread = outcome.threadId;
      baseline = await messages(baselineThread);
      assert.ok(baseline.some((m) => m.role === Role.ROLE_TOOL), 'the baseline turn recorded its tool result');
    });

    for (const { name, signal, agent, label } of FAULTS) {
      it(`${name} (${label}): restarted by the launcher; the turn in flight completes and history is intact`, async () => {
        const oldPid = mesh.servicePid(name)!;
        assert.ok(oldPid, `${name} runs under the launcher`);
        let signalled = false;
        const content = `count again while ${name} gets ${signal}`;
        const outcome = await turn(agent, content, (event) => {
          // Once the tool call has started: the turn has checkpoints behind it and work ahead.
          if (!signalled && event.event?.$case === 'toolCallStarted') {
            signalled = true;
            process.kill(oldPid, signal);
          }
        });
        assert.ok(signalled, `${name} got ${signal} during the tool call`);
        const newPid = await mesh.waitForRestart(name, oldPid);
        assert.notEqual(newPid, oldPid);
        assert.equal(outcome.status, TurnStatus.TURN_STATUS_COMPLETED, `turn after ${name} ${signal}: ${JSON.stringify(outcome)}`);
        const thread = await messages(outcome.threadId);
        assert.deepEqual(thread.map((m) => m.role), [Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL, Role.ROLE_ASSISTANT], 'one message per step, none lost or doubled');
        assert.equal(thread[0]!.content, content);
        assert.equal(thread[2]!.isError, false, `the idempotent tool's result, not a failure: ${thread[2]!.content}`);
        assert.deepEqual(stripVolatile(await messages(baselineThread)), stripVolatile(baseline), 'the earlier thread is unchanged');
        assert.ok((await clients.agents().getAgent({ id: agent })).agent, 'the agent survived');
        assert.match(mesh.output, new RegExp(`${name} exited \\((signal ${signal}|exit code 0)\\); restarting`));
      });
    }

    it('chain-executor: restarted by the launcher; the run resumes from its checkpoint and succeeds', async () => {
      const created = await mesh.cli(['chains', 'create', '--update', '--file', path.join(REPO_ROOT, 'examples', 'chains', 'count-primes.yaml')]);
      assert.equal(created.code, 0, created.stderr);
      const chains = clients.chains();
      const run = (await chains.startRun({ chainId: 'count-primes', input: { limit: 20_000_000 }, requestId: 'e2e-chain-kill' })).run!;
      const oldPid = mesh.servicePid('chain-executor')!;
      await until('the count step to be running', async () => {
        const r = (await chains.getRun({ runId: run.id })).run;
        return r?.steps.some((s) => s.path.endsWith('count')) || undefined;
      });
      process.kill(oldPid, 'SIGKILL');
      await mesh.waitForRestart('chain-executor', oldPid);
      const watched = await mesh.cli(['chains', 'watch', run.id], 120_000);
      assert.equal(watched.code, 0, `${watched.stdout}\n${watched.stderr}`);
      const done = (await clients.chains().getRun({ runId: run.id })).run!;
      assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
      assert.match(String(done.output), /^There are 1270607 primes up to 20000000/);
      assert.ok((await clients.chains().getChain({ id: 'count-primes' })).chain, 'the chain definition survived');
    });
  });

  describe('shutdown', () => {
    it('SIGTERM to the launcher drains every service and leaves no process behind', async () => {
      const tree = mesh.processTree();
      assert.ok(tree.length >= 4, `four services at least: ${tree}`);
      const code = await mesh.terminate();
      assert.equal(code, 0, mesh.output.slice(-2000));
      await until('every process of the mesh to be gone', () => (tree.every((pid) => !isAlive(pid)) ? true : undefined), 10_000).catch(() => {
        throw new Error(`left behind: ${tree.filter(isAlive).join(', ')}`);
      });
      assert.match(mesh.output, /All services stopped/);
    });
  });

  function slowAgent(id: string) {
    // A scripted model that calls prime-counter on 20 million (a couple of
    // seconds of sandbox work with progress events), then answers.
    return {
      id,
      displayName: 'slow e2e agent',
      instructions: 'count primes',
      model: {
        provider: 'scripted',
        script: [
          { events: [{ event: { $case: 'toolCall' as const, toolCall: { name: 'prime-counter', arguments: { limit: 20_000_000, chunkSize: 200_000 }, id: '' } } }] },
          { events: [{ event: { $case: 'text' as const, text: 'Counted them.' } }] },
        ],
      },
      tools: [{ name: 'prime-counter', versionRange: '*' }],
    };
  }

  /** One turn, followed to its end (re-attaching as the CLI does); a turn that never ends fails with the thread's state. */
  async function turn(agentId: string, content: string, onEvent: (e: ThreadEvent) => void = () => {}): Promise<TurnOutcome> {
    let threadId = '';
    const seen = (e: ThreadEvent) => {
      threadId ||= e.threadId;
      onEvent(e);
    };
    try {
      return await runTurn(clients.agents(), { agentId, content }, { onEvent: seen, approve: async () => ({ approve: true }) }, AbortSignal.timeout(60_000));
    } catch (err) {
      const thread = threadId ? await clients.agents().getThread({ threadId }).catch(() => undefined) : undefined;
      const logs = (['agent-host', 'memory', 'tool-sandbox'] as const).map((n) => `--- ${n}\n${mesh.logTail(n, 8)}`).join('\n');
      throw new Error(`turn "${content}" did not end: ${(err as Error).message}; thread: ${JSON.stringify(thread?.thread)}\n${logs}`, { cause: err });
    }
  }

  async function messages(threadId: string): Promise<Message[]> {
    return (await clients.agents().listMessages({ threadId, pageSize: 100 })).messages;
  }
});

function stripVolatile(list: Message[]): unknown[] {
  return list.map((m) => ({ id: m.id, role: m.role, content: m.content, toolResult: m.toolResult, sequence: m.sequence }));
}

