import { createHash } from 'node:crypto';
import type { ToolManifest } from '@elixirchain/proto/sandbox';

// Real tools for the sandbox: bundles are plain ES modules (see tool-sandbox's README).
interface TestTool {
  manifest: Omit<ToolManifest, 'bundleSha256'>;
  source: string;
}

const objectSchema = { type: 'object' };
const manifest = (name: string, idempotent: boolean, timeoutMs = 30_000): TestTool['manifest'] => ({
  name,
  version: '1.0.0',
  description: `chain-executor test tool ${name}`,
  inputSchema: objectSchema,
  outputSchema: {},
  annotations: { readOnly: false, destructive: false, idempotent, openWorld: false },
  permissions: { networkHosts: [], secrets: [] },
  limits: { memoryMb: 32, timeoutMs, maxOutputBytes: 65536, cpuTimeMs: 0, maxEvents: 100 },
  retry: undefined,
});

const sleeper = `export default async function (input, ctx) {
  const ms = Number(input.ms ?? 0);
  await new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); });
  });
  return { slept: ms, tag: input.tag ?? null, callId: ctx.callId };
}`;

export const TEST_TOOLS: TestTool[] = [
  { manifest: manifest('echo', true), source: 'export default async function (input) { return input; }' },
  { manifest: manifest('sleep', true), source: sleeper },
  // Same behaviour, but not idempotent: an in-doubt call must not be re-run.
  { manifest: manifest('sleep-once', false), source: sleeper },
  {
    // Fails its first two attempts: the executor's call id ends with the attempt number.
    manifest: manifest('flaky', true),
    source: `export default async function (input, ctx) {
  const attempt = Number(ctx.callId.split(':').pop());
  if (attempt < 3) { const e = new Error('transient failure on attempt ' + attempt); e.code = 'UNAVAILABLE'; throw e; }
  return { attempt };
}`,
  },
];

export function bundleOf(tool: TestTool): { manifest: ToolManifest; bundle: Buffer } {
  const bundle = Buffer.from(tool.source, 'utf8');
  return { manifest: { ...tool.manifest, bundleSha256: createHash('sha256').update(bundle).digest('hex') }, bundle };
}
