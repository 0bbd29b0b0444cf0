import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { ToolManifest as ProtoManifest } from '@elixirchain/proto/sandbox';
import type { ServiceName } from '../launcher/service-catalog.js';
import { MeshClients, type AgentClient, type SandboxClient } from '../mesh/mesh-clients.js';
import { DEMO_AGENT_ID, DEMO_SEED_VERSION, DEMO_TOOL_EXAMPLES, demoAgent } from './demo-agent.js';

/**
 * Seeds the demo agent and its example tools on every start, idempotently:
 * a tool version already registered with the same bundle is left alone, and
 * the agent is created once, then updated only when an older seed made it.
 */
export async function seedDemo(addresses: Record<ServiceName, string>, print: (line: string) => void): Promise<void> {
  const clients = new MeshClients(addresses);
  try {
    const tools = clients.tools();
    const names: string[] = [];
    for (const dir of DEMO_TOOL_EXAMPLES) names.push(await registerExample(tools, dir, print));
    const agents = clients.agents();
    const verb = await upsertAgent(agents, names);
    print(`demo agent ${verb} with tools ${names.join(', ')} (model: ${process.env.OPENAI_API_KEY ? 'OpenAI' : 'scripted, offline'})`);
  } finally {
    clients.close();
  }
}

async function registerExample(tools: SandboxClient, dir: string, print: (line: string) => void): Promise<string> {
  if (!fs.existsSync(dir)) {
    throw new Error(`the demo tool example ${path.relative(process.cwd(), dir) || dir} is missing (plugin-sdk/examples); start with --no-demo to skip the demo`);
  }
  // Built in memory at every start: the bundle is whatever the example's source says now.
  const { buildToolProject } = await loadToolchain();
  const built = await buildToolProject(dir, { outDir: false });
  const m = built.manifest;
  const existing = await tools.getTool({ name: m.name, version: m.version }).catch((err: unknown) => {
    if (ElixirError.is(err, GrpcCode.NOT_FOUND)) return undefined;
    throw err;
  });
  if (existing?.tool?.manifest?.bundleSha256 === m.bundleSha256) return m.name;
  const manifest: ProtoManifest = {
    name: m.name,
    version: m.version,
    description: m.description,
    inputSchema: m.inputSchema as Record<string, unknown>,
    outputSchema: m.outputSchema as Record<string, unknown>,
    annotations: { ...m.annotations },
    permissions: { networkHosts: m.permissions.network ?? [], secrets: m.permissions.secrets ?? [] },
    limits: { ...m.limits },
    retry: {
      maxAttempts: m.retry.maxAttempts,
      initialBackoff: duration(m.retry.initialBackoffMs),
      maxBackoff: duration(m.retry.maxBackoffMs),
      backoffMultiplier: m.retry.backoffMultiplier,
    },
    bundleSha256: m.bundleSha256,
  };
  if (existing?.tool) {
    // A version is immutable: the registered bundle stays until the example's version is bumped.
    print(`note: ${m.name}@${m.version} is registered with another bundle than plugin-sdk/examples builds now; keeping the registered one (bump the example's version to replace it)`);
    return m.name;
  }
  await tools.registerTool({
    manifest,
    bundle: Buffer.from(built.code, 'utf8'),
    // The operator is the one starting the demo: grant what the example asks for.
    grantPermissions: true,
    requestId: `demo-seed:${m.name}@${m.version}:${m.bundleSha256.slice(0, 16)}`,
  });
  return m.name;
}

async function upsertAgent(agents: AgentClient, toolNames: string[]): Promise<'created' | 'updated' | 'ready'> {
  const agent = demoAgent(toolNames);
  const current = await agents.getAgent({ id: DEMO_AGENT_ID }).catch((err: unknown) => {
    if (ElixirError.is(err, GrpcCode.NOT_FOUND)) return undefined;
    throw err;
  });
  if (!current?.agent) {
    await agents.createAgent({ agent, requestId: `demo-seed:create:${DEMO_SEED_VERSION}` });
    return 'created';
  }
  const seeded = Number((current.agent.metadata as { demoSeedVersion?: unknown } | undefined)?.demoSeedVersion ?? 0);
  // An agent the user re-defined (no seed marker) or a current seed is theirs to keep.
  if (!current.agent.metadata?.seededBy || seeded >= DEMO_SEED_VERSION) return 'ready';
  await agents.updateAgent({ agent, expectedVersion: current.agent.version, requestId: `demo-seed:update:${DEMO_SEED_VERSION}` });
  return 'updated';
}

type Toolchain = typeof import('@elixirchain/plugin-sdk/toolchain');

/** Inside the repository the SDK runs from its sources (its dist/ is a publish artefact); installed, from dist/. */
async function loadToolchain(): Promise<Toolchain> {
  const sdkRoot = path.dirname(fileURLToPath(import.meta.resolve('@elixirchain/plugin-sdk/package.json')));
  const source = path.join(sdkRoot, 'src', 'toolchain.ts');
  return (await import(fs.existsSync(source) ? pathToFileURL(source).href : '@elixirchain/plugin-sdk/toolchain')) as Toolchain;
}

function duration(ms: number | undefined): { seconds: number; nanos: number } {
  const value = ms ?? 0;
  return { seconds: Math.floor(value / 1000), nanos: (value % 1000) * 1e6 };
}
