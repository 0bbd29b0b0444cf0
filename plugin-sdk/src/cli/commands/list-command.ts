import { ToolSandboxClient, type ToolSandboxClientOptions } from '../../client/tool-sandbox-client.js';
import type { CliOutput } from '../cli-output.js';

/** What a tool-sandbox holds: each tool's newest version (or every version) and whether it runs. */
export async function listCommand(output: CliOutput, name: string | undefined, options: { target: string; connection?: ToolSandboxClientOptions; allVersions?: boolean }) {
  const client = new ToolSandboxClient(options.target, options.connection);
  try {
    await output.step(`connecting to ${options.target}`, () => client.waitForReady(options.connection?.connectTimeoutMs ?? 10_000));
    const tools = await client.listTools({ name, allVersions: options.allVersions === true || name !== undefined });
    const width = Math.max(4, ...tools.map((tool) => `${tool.name}@${tool.version}`.length));
    output.result({ command: 'list', target: options.target, tools }, [
      ...(tools.length === 0 ? ['No tools published.'] : []),
      ...tools.map((tool) => {
        const missing = [...tool.missingPermissions.network, ...tool.missingPermissions.secrets];
        return `${`${tool.name}@${tool.version}`.padEnd(width)}  ${tool.state.padEnd(13)}  ${(tool.bundleSize / 1024).toFixed(1).padStart(7)} KiB${missing.length ? `  needs: ${missing.join(', ')}` : ''}`;
      }),
    ]);
  } finally {
    client.close();
  }
}
