import { ToolSandboxClient, type ToolSandboxClientOptions } from '../../client/tool-sandbox-client.js';
import { CliError, type CliOutput } from '../cli-output.js';

/** The operator's side of publishing: grants a tool (all its versions) network hosts and secrets. */
export async function grantCommand(output: CliOutput, name: string | undefined, options: { target: string; connection?: ToolSandboxClientOptions; network: string[]; secrets: string[] }) {
  if (!name) throw new CliError('grant needs a tool name: elixirchain-tool grant <tool> --network <host> --secret <NAME>');
  if (options.network.length + options.secrets.length === 0) throw new CliError('grant needs at least one --network <host> or --secret <NAME>');
  const client = new ToolSandboxClient(options.target, options.connection);
  try {
    await output.step(`connecting to ${options.target}`, () => client.waitForReady(options.connection?.connectTimeoutMs ?? 10_000));
    const activated = await output.step(`granting ${name}`, () => client.grantTool(name, { network: options.network, secrets: options.secrets }));
    output.result({ command: 'grant', name, granted: { network: options.network, secrets: options.secrets }, activated: activated.map((tool) => tool.version) }, [
      `Granted ${name}: ${[...options.network.map((host) => `network ${host}`), ...options.secrets.map((secret) => `secret ${secret}`)].join(', ')}`,
      ...(activated.length ? [`  now active: ${activated.map((tool) => `${tool.name}@${tool.version}`).join(', ')}`] : []),
    ]);
  } finally {
    client.close();
  }
}
