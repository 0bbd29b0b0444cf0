import assert from 'node:assert/strict';
import { ToolManifest as ProtoToolManifest } from '@elixirchain/proto/sandbox';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';
import { ToolSandboxClient } from '../src/client/tool-sandbox-client.js';
import { toProtoManifest } from '../src/manifest/proto-manifest.js';
import { checkManifest, createManifest } from '../src/manifest/tool-manifest.js';
import { buildToolProject } from '../src/project/tool-project.js';
import { testTool } from '../src/testing/test-tool.js';
import { defineTool } from '../src/index.js';
import { ToolProjectFixture } from './tool-project-fixture.js';

// contextReuse (ToolManifest.context_reuse in the sandbox's proto): the SDK
// carries it from defineTool through the manifest into the proto, and a tool
// built with the SDK keeps its globals between calls only when it opted in.

const base = {
  name: 'counter',
  version: '1.0.0',
  description: 'Counts its calls.',
  input: { type: 'object' },
  output: { type: 'object' },
  execute: () => ({}),
};
const BUNDLE = { sha256: 'a'.repeat(64), size: 1 };

/** A tool that counts its calls in a module variable and remembers the first caller's mark on globalThis. */
const counterTool = (name: string, contextReuse: string) => `import { defineTool } from '@elixirchain/plugin-sdk';
let calls = 0;
export default defineTool({
  name: '${name}',
  version: '1.0.0',
  description: 'Counts its calls in a module variable.',
  input: { type: 'object', properties: { mark: { type: 'string' } }, required: ['mark'] },
  output: { type: 'object', properties: { calls: { type: 'number' }, firstMark: { type: 'string' } } },
  annotations: { readOnly: true },
  ${contextReuse}
  execute({ mark }) {
    calls += 1;
    const scope = globalThis as { firstMark?: string };
    scope.firstMark ??= mark;
    return { calls, firstMark: scope.firstMark };
  },
});
`;

describe('contextReuse in the SDK', function () {
  this.timeout(60_000);

  it('round-trips from defineTool through the manifest JSON into the proto manifest', () => {
    const manifest = createManifest(defineTool({ ...base, contextReuse: { maxCalls: 200, maxIdleMs: 30_000 } }).metadata, BUNDLE, '0.0.0');
    assert.deepEqual(manifest.contextReuse, { maxCalls: 200, maxIdleMs: 30_000 });
    const fromDisk = checkManifest(JSON.parse(JSON.stringify(manifest)));
    const proto = ProtoToolManifest.decode(ProtoToolManifest.encode(toProtoManifest(fromDisk)).finish());
    assert.deepEqual(proto.contextReuse, { maxCalls: 200, maxIdleMs: 30_000 });

    const defaulted = createManifest(defineTool({ ...base, contextReuse: { maxCalls: 5 } }).metadata, BUNDLE, '0.0.0');
    assert.deepEqual(toProtoManifest(defaulted).contextReuse, { maxCalls: 5, maxIdleMs: 10_000 }, 'maxIdleMs defaults to the sandbox default, written out');
  });

  it('leaves the proto field absent for a tool that did not opt in', () => {
    const manifest = createManifest(defineTool(base).metadata, BUNDLE, '0.0.0');
    assert.equal('contextReuse' in manifest, false, 'the manifest JSON of a tool without it is unchanged');
    assert.equal(toProtoManifest(manifest).contextReuse, undefined);
    assert.equal(ProtoToolManifest.decode(ProtoToolManifest.encode(toProtoManifest(manifest)).finish()).contextReuse, undefined);
  });

  it('refuses a manifest read from disk whose contextReuse is out of range', () => {
    const manifest = createManifest(defineTool(base).metadata, BUNDLE, '0.0.0');
    assert.throws(
      () => checkManifest({ ...manifest, contextReuse: { maxCalls: 2, maxIdleMs: 300_001 } }),
      /^ManifestError: the manifest is invalid: contextReuse\.maxIdleMs: must be an integer between 0 and 300000, got 300001$/,
    );
  });

  describe('a tool built with the SDK', () => {
    const fixtures: ToolProjectFixture[] = [];
    let server: ToolSandboxServer;
    let client: ToolSandboxClient;

    before(async () => {
      // One worker, so a context that could be reused would be.
      server = await startToolSandboxServer({ address: '127.0.0.1:0', pool: { workers: 1 } });
      client = new ToolSandboxClient(server.address);
    });
    after(async () => {
      client?.close();
      await server?.stop();
      fixtures.forEach((fixture) => fixture.remove());
    });

    const publish = async (name: string, contextReuse: string) => {
      const fixture = new ToolProjectFixture({ 'src/index.ts': counterTool(name, contextReuse) });
      fixtures.push(fixture);
      const built = await buildToolProject(fixture.dir, { outDir: false });
      const published = await client.registerTool(built.manifest, built.code);
      assert.equal(published.state, 'active');
      return { fixture, manifest: built.manifest };
    };
    const call = async (name: string, mark: string) => (await client.invokeTool<{ calls: number; firstMark: string }>(name, { mark })).output;

    it('keeps a global between two calls of the same tenant in a real tool-sandbox when reuse is on', async () => {
      const { manifest } = await publish('counter-reused', 'contextReuse: { maxCalls: 50 },');
      assert.deepEqual(manifest.contextReuse, { maxCalls: 50, maxIdleMs: 10_000 });
      assert.deepEqual(await call('counter-reused', 'first'), { calls: 1, firstMark: 'first' });
      assert.deepEqual(await call('counter-reused', 'second'), { calls: 2, firstMark: 'first' });
    });

    it('gives every call a fresh context when reuse is off (absent, or maxCalls 1)', async () => {
      await publish('counter-fresh', '');
      await publish('counter-one', 'contextReuse: { maxCalls: 1 },');
      for (const name of ['counter-fresh', 'counter-one']) {
        assert.deepEqual(await call(name, 'first'), { calls: 1, firstMark: 'first' });
        assert.deepEqual(await call(name, 'second'), { calls: 1, firstMark: 'second' });
      }
    });

    it('testTool honours it as the sandbox does (the local engine is the production engine)', async () => {
      const { fixture } = await publish('counter-local', 'contextReuse: { maxCalls: 50 },');
      const tool = await testTool({ project: fixture.dir });
      try {
        assert.equal((await tool.invoke({ mark: 'a' })).output.calls, 1);
        assert.deepEqual((await tool.invoke({ mark: 'b' })).output, { calls: 2, firstMark: 'a' });
      } finally {
        await tool.close();
      }
    });
  });
});
