import { ToolSandboxClient, type ToolSandboxClientOptions } from '../../client/tool-sandbox-client.js';
import { buildToolProject, readBuiltTool } from '../../project/tool-project.js';
import type { ToolPermissions } from '../../tool/tool-types.js';
import type { CliOutput } from '../cli-output.js';

/**
 * Builds (or reads) the tool and registers it with RegisterTool. A version
 * that asks for permissions its grant lacks is stored as pending_grant: the
 * output names what is missing and the exact command an operator runs.
 */
export async function publishCommand(output: CliOutput, options: { project: string; target: string; connection?: ToolSandboxClientOptions; bundle?: string; entry?: string; grant?: boolean }) {
  const built = options.bundle
    ? await output.step(`reading ${options.bundle}`, () => readBuiltTool(options.bundle!))
    : await output.step('bundling the tool with esbuild', () => buildToolProject(options.project, { entry: options.entry }));
  const client = new ToolSandboxClient(options.target, options.connection);
  try {
    await output.step(`connecting to ${options.target}`, () => client.waitForReady(options.connection?.connectTimeoutMs ?? 10_000));
    const tool = await output.step(`registering ${built.manifest.name}@${built.manifest.version}`, () =>
      client.registerTool(built.manifest, built.code, { grantPermissions: options.grant === true }),
    );
    const missing = tool.missingPermissions;
    const needsGrant = missing.network.length + missing.secrets.length > 0;
    const grantCommand = needsGrant ? grantCommandLine(tool.name, missing, options.target) : undefined;
    output.result(
      {
        command: 'publish',
        target: options.target,
        name: tool.name,
        version: tool.version,
        state: tool.state,
        sha256: tool.bundleSha256,
        permissions: built.manifest.permissions,
        missingPermissions: missing,
        grantCommand,
      },
      [
        `Published ${tool.name}@${tool.version} to ${options.target} (${tool.state === 'active' ? 'active: new calls get this version' : 'pending a grant'})`,
        ...permissionLines(built.manifest.permissions),
        ...(needsGrant
          ? [
              `Needs a grant before it runs: ${describePermissions(missing)}`,
              `An operator grants it with:`,
              `  ${grantCommand}`,
            ]
          : []),
      ],
    );
    return tool;
  } finally {
    client.close();
  }
}

export function grantCommandLine(name: string, permissions: Required<ToolPermissions>, target: string): string {
  const flags = [...permissions.network.map((host) => `--network ${host}`), ...permissions.secrets.map((secret) => `--secret ${secret}`)];
  return `npx elixirchain-tool grant ${name} ${flags.join(' ')} --target ${target}`;
}

function describePermissions(permissions: Required<ToolPermissions>): string {
  const parts = [
    ...(permissions.network.length ? [`network ${permissions.network.join(', ')}`] : []),
    ...(permissions.secrets.length ? [`secrets ${permissions.secrets.join(', ')}`] : []),
  ];
  return parts.join('; ') || 'nothing';
}

function permissionLines(permissions: Required<ToolPermissions>): string[] {
  return [`  permissions asked: ${describePermissions(permissions)}`];
}
