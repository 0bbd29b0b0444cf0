import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { ToolSandboxClientOptions } from '../client/tool-sandbox-client.js';
import { SDK_VERSION } from '../sdk-location.js';
import { CliError, CliOutput } from './cli-output.js';
import { buildCommand } from './commands/build-command.js';
import { grantCommand } from './commands/grant-command.js';
import { initCommand } from './commands/init-command.js';
import { invokeCommand } from './commands/invoke-command.js';
import { listCommand } from './commands/list-command.js';
import { packCommand } from './commands/pack-command.js';
import { publishCommand } from './commands/publish-command.js';
import { testCommand } from './commands/test-command.js';
import { verifyCommand } from './commands/verify-command.js';

const USAGE = `elixirchain-tool ${SDK_VERSION}: write, test and publish ElixirChain tools

Usage: elixirchain-tool <command> [options]

Commands:
  init <dir>                 create a ready tool project (package.json, tsconfig, a tool and its test)
  test [files...]            run the project's tests against the production sandbox engine
  build                      bundle the tool into one ES module + manifest (dist/)
  pack                       build and write <name>-<version>.tool.json (manifest + bundle in one file)
  verify <bundle>            re-check a built bundle: sha256, manifest, sandbox compile
  publish                    build and register the tool with a tool-sandbox (RegisterTool)
  grant <tool>               (operator) grant a tool --network hosts and --secret names
  invoke <tool>              call a published tool and print its progress stream
  list [tool]                the tools a tool-sandbox holds (every version of the one named)

Options:
  --project <dir>            the tool project (default: the current directory)
  --target <host:port>       the tool-sandbox (default: $ELIXIRCHAIN_TOOL_SANDBOX_ADDR or 127.0.0.1:50053)
  --out <path>               build: output directory; pack: output file
  --entry <file>             the tool module (default: package.json "elixirchain.entry" or src/index.ts)
  --bundle <file>            publish/pack: use this built bundle (or .tool.json) instead of building
  --manifest <file>          verify: the manifest, when not beside the bundle
  --minify                   build: minify the bundle
  --grant                    publish: also grant every permission asked (operators only)
  --network <host>           grant: a host the tool may fetch from (repeatable)
  --secret <NAME>            grant: a secret the tool may read (repeatable)
  --input <json>             invoke: the input object; --input-file <file> reads it from a file
  --version <semver|range>   invoke: the version to call (default: newest active)
  --timeout <ms>             invoke: per-call time limit
  --all-versions             list: every version, not only the newest
  --name <tool-name>         init: the tool's name (default: from the directory)
  --force                    init: overwrite existing files
  --token <token>            bearer token for the tool-sandbox (default: $ELIXIRCHAIN_TOKEN)
  --connect-timeout <ms>     how long to wait for the tool-sandbox (default 10000)
  --ca <file>                PEM CA to reach the tool-sandbox over TLS (default: $ELIXIRCHAIN_TOOL_SANDBOX_CA)
  --json                     print one JSON document on stdout (for scripts)
  -h, --help                 show this help
`;

export interface CliStreams {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Runs the CLI and returns the process exit code; `streams` lets a caller capture the output. */
export async function main(argv: string[], streams: CliStreams = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        project: { type: 'string' },
        target: { type: 'string' },
        out: { type: 'string' },
        entry: { type: 'string' },
        bundle: { type: 'string' },
        manifest: { type: 'string' },
        minify: { type: 'boolean' },
        grant: { type: 'boolean' },
        network: { type: 'string', multiple: true },
        secret: { type: 'string', multiple: true },
        input: { type: 'string' },
        'input-file': { type: 'string' },
        version: { type: 'string' },
        timeout: { type: 'string' },
        'call-id': { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean' },
        'all-versions': { type: 'boolean' },
        token: { type: 'string' },
        ca: { type: 'string' },
        'connect-timeout': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return new CliOutput({ json: argv.includes('--json'), ...streams }).failure(new CliError(`${(error as Error).message} (see elixirchain-tool --help)`));
  }
  const { values, positionals } = parsed;
  const output = new CliOutput({ json: values.json === true, ...streams });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (streams.stdout ?? process.stdout).write(USAGE);
    return command === undefined && !values.help ? 1 : 0;
  }
  const project = resolve(values.project ?? '.');
  const target = values.target ?? process.env.ELIXIRCHAIN_TOOL_SANDBOX_ADDR ?? '127.0.0.1:50053';
  const token = values.token ?? process.env.ELIXIRCHAIN_TOKEN;
  const connection: ToolSandboxClientOptions = {
    caFile: values.ca ?? process.env.ELIXIRCHAIN_TOOL_SANDBOX_CA,
    metadata: token ? { authorization: `Bearer ${token}` } : undefined,
  };
  try {
    if (values['connect-timeout'] !== undefined) connection.connectTimeoutMs = parsePositiveInt('--connect-timeout', values['connect-timeout']);
    switch (command) {
      case 'init':
        await initCommand(output, rest[0], { name: values.name, force: values.force });
        return 0;
      case 'test':
        return await testCommand(output, { project, files: rest, entry: values.entry });
      case 'build':
        await buildCommand(output, { project, out: values.out, entry: values.entry, minify: values.minify });
        return 0;
      case 'pack':
        await packCommand(output, { project, bundle: values.bundle, out: values.out, entry: values.entry });
        return 0;
      case 'verify':
        await verifyCommand(output, { project, bundle: rest[0] ?? values.bundle, manifest: values.manifest });
        return 0;
      case 'publish':
        await publishCommand(output, { project, target, connection, bundle: values.bundle, entry: values.entry, grant: values.grant });
        return 0;
      case 'grant':
        await grantCommand(output, rest[0], { target, connection, network: values.network ?? [], secrets: values.secret ?? [] });
        return 0;
      case 'invoke':
        await invokeCommand(output, rest[0], {
          target,
          connection,
          input: values.input,
          inputFile: values['input-file'],
          version: values.version,
          timeoutMs: values.timeout === undefined ? undefined : parsePositiveInt('--timeout', values.timeout),
          callId: values['call-id'],
        });
        return 0;
      case 'list':
        await listCommand(output, rest[0], { target, connection, allVersions: values['all-versions'] });
        return 0;
      default:
        throw new CliError(`unknown command "${command}" (see elixirchain-tool --help)`);
    }
  } catch (error) {
    return output.failure(error);
  }
}

function parsePositiveInt(flag: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new CliError(`${flag} must be a positive integer, got "${value}"`);
  return number;
}
