import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { errors } from '@elixirchain/runtime';
import { ThreadEventView } from '../src/chat/thread-event-view.js';
import { agentFromDefinition, parseToolRef } from '../src/definitions/agent-definition.js';
import { chainFromDefinition } from '../src/definitions/chain-definition.js';
import { readDefinitionFile } from '../src/definitions/definition-file.js';
import { REPO_ROOT } from '../src/launcher/service-catalog.js';
import { describeError } from '../src/output/error-report.js';
import { Output } from '../src/output/output.js';

function capture(json = false) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d) => (out += d));
  return { output: new Output(json, stdout, stderr), text: () => out };
}

describe('cli: one-line errors', () => {
  it('names the status, the reason and the field violations', () => {
    const report = describeError(errors.invalidArguments([{ field: 'agent.tools[0].name', description: 'must not be empty' }]));
    assert.equal(report.code, 'INVALID_ARGUMENT');
    assert.match(report.line, /^INVALID_ARGUMENT( \([A-Z_]+\))?: .*\[agent\.tools\[0\]\.name: must not be empty\]$/);
  });

  it('shows RetryInfo as a delay and the reason of an ErrorInfo', () => {
    const report = describeError(errors.resourceExhausted('MAILBOX_FULL', 'thread t1 has 64 messages waiting', 2500));
    assert.equal(report.line, 'RESOURCE_EXHAUSTED (MAILBOX_FULL): thread t1 has 64 messages waiting (retry after 3 s)');
  });

  it('turns a refused connection into a hint to start the mesh', () => {
    const report = describeError(errors.unavailable('UNAVAILABLE', 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50051.'));
    assert.match(report.line, /^UNAVAILABLE: No connection established: connection refused \(is the mesh running\? start it with `npm start`\)$/);
  });

  it('keeps a plain error plain', () => {
    assert.equal(describeError(new Error('cannot read x.yaml: ENOENT')).line, 'cannot read x.yaml: ENOENT');
  });
});

describe('cli: agent and chain definitions', () => {
  it('reads the example agent (YAML, tool shorthand, durations)', () => {
    const file = path.join(REPO_ROOT, 'examples', 'agents', 'primes.yaml');
    const agent = agentFromDefinition(file, readDefinitionFile(file));
    assert.equal(agent.id, 'primes');
    assert.deepEqual(agent.tools, [{ name: 'prime-counter', versionRange: '^1', requireApproval: false }]);
    assert.deepEqual(agent.limits?.turnTimeout, { seconds: 120, nanos: 0 });
    assert.equal(agent.memoryPolicy?.historyLimit, 20);
  });

  it('reads durations as people write them, and refuses what is not one', () => {
    const agent = agentFromDefinition('a.yaml', { id: 'x', limits: { turnTimeout: '1.5s' } });
    assert.deepEqual(agent.limits?.turnTimeout, { seconds: 1, nanos: 500_000_000 });
    assert.deepEqual(agentFromDefinition('a.yaml', { id: 'x', limits: { turn_timeout: '2m' } }).limits?.turnTimeout, { seconds: 120, nanos: 0 });
    assert.throws(() => agentFromDefinition('a.yaml', { id: 'x', limits: { turnTimeout: 'soon' } }), /limits\.turnTimeout: "soon" is not a duration/);
  });

  it('refuses an unknown field instead of dropping it', () => {
    assert.throws(() => agentFromDefinition('a.yaml', { id: 'x', instruction: 'typo' }), /a\.yaml: unknown field instruction \(known: .*instructions/);
  });

  it('parses tool references, with ! for approval', () => {
    assert.deepEqual(parseToolRef('calculator@^1!'), { name: 'calculator', versionRange: '^1', requireApproval: true });
    assert.deepEqual(parseToolRef('calculator'), { name: 'calculator', versionRange: '*', requireApproval: false });
    assert.throws(() => parseToolRef('Bad Name', '--tool #1'), /--tool #1: "Bad Name" is not name\[@version-range\]\[!\]/);
  });

  it('reads the example chains into steps of the contract', () => {
    for (const name of ['count-primes', 'fan-out']) {
      const file = path.join(REPO_ROOT, 'examples', 'chains', `${name}.yaml`);
      const chain = chainFromDefinition(file, readDefinitionFile(file));
      assert.equal(chain.id, name);
      assert.equal(chain.root?.kind?.$case, 'sequential');
    }
    const file = path.join(REPO_ROOT, 'examples', 'chains', 'count-primes.yaml');
    const steps = chainFromDefinition(file, readDefinitionFile(file)).root!.kind!;
    assert.ok(steps.$case === 'sequential');
    assert.deepEqual(steps.sequential.steps.map((s) => s.kind?.$case), ['tool', 'transform']);
    assert.deepEqual(steps.sequential.steps[0]!.timeout, { seconds: 60, nanos: 0 });
  });

  it('says which file is not YAML', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elixirchain-def-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      fs.writeFileSync(file, 'id: [unclosed\n');
      assert.throws(() => readDefinitionFile(file), /bad\.yaml is not valid YAML\/JSON/);
      assert.throws(() => readDefinitionFile(path.join(dir, 'missing.yaml')), /cannot read .*missing\.yaml: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cli: how a turn looks', () => {
  const at = (sequence: number, body: ThreadEvent['event']): ThreadEvent => ({ sequence, threadId: 't', turnId: 'u', time: new Date(0), event: body });

  it('streams text, shows the tool call with version, arguments, result and time, then a summary', () => {
    const { output, text } = capture();
    const view = new ThreadEventView(output, 'demo');
    const events: ThreadEvent['event'][] = [
      { $case: 'textDelta', textDelta: { text: 'Let me ' } },
      { $case: 'textDelta', textDelta: { text: 'check.' } },
      { $case: 'toolCallStarted', toolCallStarted: { callId: 'c', toolName: 'calculator', toolVersion: 'calculator@1.0.0', arguments: { expression: '2+3' } } },
      { $case: 'toolCallProgress', toolCallProgress: { callId: 'c', fraction: 0.5, message: 'half' } },
      { $case: 'toolCallProgress', toolCallProgress: { callId: 'c', fraction: 0.5, message: 'half' } },
      { $case: 'toolCallCompleted', toolCallCompleted: { callId: 'c', toolName: 'calculator', result: { value: 5 }, error: undefined, duration: { seconds: 0, nanos: 12e6 } } },
      { $case: 'textDelta', textDelta: { text: 'It is 5.' } },
      { $case: 'turnCompleted', turnCompleted: { turnId: 'u', status: TurnStatus.TURN_STATUS_COMPLETED, usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15, modelCalls: 2, toolCalls: 1 }, duration: { seconds: 1, nanos: 2e8 } } },
    ];
    events.forEach((e, i) => view.show(at(i + 1, e)));
    assert.equal(
      text(),
      [
        'demo › Let me check.',
        '  ⚙ calculator@1.0.0 {"expression":"2+3"}',
        '    50% half',
        '  ✓ calculator → {"value":5} (12 ms)',
        'demo › It is 5.',
        '  (completed · 2 model calls · 1 tool call · 15 tokens · 1.2 s)',
        '',
      ].join('\n'),
    );
  });

  it('prints one JSON object per event with --json', () => {
    const { output, text } = capture(true);
    new ThreadEventView(output, 'demo').show(at(7, { $case: 'textDelta', textDelta: { text: 'x' } }));
    const parsed = JSON.parse(text()) as { sequence: number; event: { $case: string } };
    assert.equal(parsed.sequence, 7);
    assert.equal(parsed.event.$case, 'textDelta');
  });
});

describe('cli: reading a conversation from stdin', () => {
  it('hands out every piped line in order, even those that arrive before the prompt', async () => {
    const { LineReader } = await import('../src/chat/line-reader.js');
    const input = new PassThrough();
    const prompts = new PassThrough();
    const reader = new LineReader(input, prompts);
    input.end('2+3\n7*6\n\nlater\n');
    await new Promise((r) => setImmediate(r));
    assert.equal(await reader.ask('you › '), '2+3');
    assert.equal(await reader.ask('you › '), '7*6');
    assert.equal(await reader.ask('you › '), '');
    assert.equal(await reader.ask('you › '), 'later');
    assert.equal(await reader.ask('you › '), undefined, 'end of input');
    reader.close();
  });
});
