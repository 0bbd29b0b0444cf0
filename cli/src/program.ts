import { Command, Option } from 'commander';
import type { AgentFlags } from './commands/agents.js';
import { runStatus } from './commands/status.js';
import { SERVICE_NAMES } from './launcher/service-catalog.js';
import { Output } from './output/output.js';
import { describeError } from './output/error-report.js';

type Action = (out: Output, ...args: any[]) => Promise<number | void>;

// Commands load their modules when they run: `--help` and `status` (a health
// probe) stay quick, without the gRPC clients, telemetry and proto code.
const agentsCommands = () => import('./commands/agents.js');
const chainsCommands = () => import('./commands/chains.js');
const chatCommand = () => import('./commands/chat.js');
const toolsCommands = () => import('./commands/tools.js');
const keysCommands = () => import('./commands/keys.js');

/** Builds the `elixirchain` command tree. Each action returns its exit code. */
export function buildProgram(): Command {
  const program = new Command('elixirchain')
    .description('Run and drive ElixirChain: agents, tools and chains on a mesh of gRPC services.')
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('start')
    .description('start the four services under a supervisor (what `npm start` runs)')
    .option('--no-demo', 'do not seed the demo agent and its tools')
    .option('--no-console', 'do not serve the web console (ELIXIRCHAIN_CONSOLE_ADDR, default 127.0.0.1:8080)')
    .option('--logs', "show the services' JSON logs here instead of in <data dir>/logs/")
    .option('--data-dir <dir>', 'on-disk data (default: $ELIXIRCHAIN_DATA_DIR or ./.elixirchain)')
    .option('--grace <seconds>', 'how long each service may drain on shutdown', parseSeconds, 10)
    // Tests run the real launcher process over stand-in services.
    .addOption(new Option('--service-entry <file>', 'run this file as every service').hideHelp())
    .action(wrap(async (out, opts: { demo: boolean; console: boolean; logs?: boolean; dataDir?: string; grace: number; serviceEntry?: string }) => {
      const { seedDemo } = await import('./demo/demo-seed.js');
      const { runStart } = await import('./commands/start.js');
      const { dataDir, serviceEntry } = opts;
      return runStart({ demo: opts.demo, console: opts.console, logs: opts.logs ?? false, dataDir, graceMs: opts.grace * 1000, serviceEntry }, out, seedDemo);
    }));

  program
    .command('status')
    .description('grpc.health.v1 status of each service (exit 1 unless all are SERVING)')
    .addOption(new Option('--service <name>', 'only this service').choices([...SERVICE_NAMES]))
    .option('--wait <seconds>', 'poll until SERVING, up to this long', parseSeconds, 0)
    .action(wrap((out, opts: { service?: string; wait: number }) => runStatus(opts, out)));

  program
    .command('seed-demo')
    .description('register the example tools and the demo agent in a running mesh (`start` does this itself)')
    .action(wrap(async (out) => {
      const { seedDemo } = await import('./demo/demo-seed.js');
      const { serviceAddresses } = await import('./launcher/service-catalog.js');
      await seedDemo(serviceAddresses(), (line) => out.note(line));
      out.result({ seeded: true }, () => {});
    }));

  const agents = program.command('agents').description('define agents (from flags or a YAML/JSON file)');
  const agentFlags = (cmd: Command) =>
    cmd
      .option('-f, --file <file>', 'agent definition, YAML or JSON (- for stdin)')
      .option('--name <text>', 'display name')
      .option('--instructions <text>', 'system instructions')
      .option('--model <id>', 'model id, e.g. gpt-4o-mini')
      .option('--provider <name>', 'openai | scripted (default: openai when OPENAI_API_KEY is set)')
      .option('--tool <name@range>', 'a tool the agent may call (repeatable; a trailing ! requires approval)', collect, []);
  agentFlags(agents.command('create').description('create an agent').option('--id <id>', 'agent id (generated when omitted)'))
    .action(wrap(async (out, opts: AgentFlags) => (await agentsCommands()).agentsCreate(out, opts)));
  agents.command('list').description('list agents').action(wrap(async (out) => (await agentsCommands()).agentsList(out, {})));
  agents
    .command('get <id>')
    .description('show an agent')
    .option('--version <n>', 'a past version', parseCount)
    .action(wrap(async (out, id: string, opts: { version?: number }) => (await agentsCommands()).agentsGet(out, id, opts)));
  agentFlags(agents.command('update <id>').description('update an agent (a file replaces every field; flags only theirs)'))
    .option('--expect-version <n>', 'fail with ABORTED unless the agent is at this version', parseCount)
    .action(wrap(async (out, id: string, opts: AgentFlags) => (await agentsCommands()).agentsUpdate(out, id, opts)));
  agents.command('delete <id>').description('delete an agent').action(wrap(async (out, id: string) => (await agentsCommands()).agentsDelete(out, id)));

  program
    .command('chat <agent>')
    .description('talk to an agent: streams the reply, shows tool calls, asks for approvals')
    .option('-m, --message <text>', 'send one message, print the turn and exit (non-interactive)')
    .option('--thread <id>', 'continue a thread')
    .option('--approve', 'approve every tool call that asks')
    .option('--deny', 'deny every tool call that asks')
    .action(wrap(async (out, agent: string, opts: { message?: string; thread?: string; approve?: boolean; deny?: boolean }) => {
      if (opts.approve && opts.deny) throw new Error('--approve and --deny exclude each other');
      return (await chatCommand()).runChat(out, agent, { message: opts.message, thread: opts.thread, approvals: opts.approve ? 'approve' : opts.deny ? 'deny' : 'ask' });
    }));

  const tools = program.command('tools').description('tools in the sandbox');
  tools
    .command('list')
    .description('registered tools (newest version of each)')
    .option('--all-versions', 'every version')
    .option('--name <name>', 'only this tool')
    .action(wrap(async (out, opts: { allVersions?: boolean; name?: string }) => (await toolsCommands()).toolsList(out, opts)));
  tools
    .command('invoke <name>')
    .description('run a tool, streaming its progress')
    .option('-i, --input <json>', 'input object as JSON', undefined)
    .option('--version <range>', 'exact version or semver range')
    .option('--timeout <seconds>', 'wall-clock limit for the call', parseSeconds)
    .action(wrap(async (out, name: string, opts: { input?: string; version?: string; timeout?: number }) => (await toolsCommands()).toolsInvoke(out, name, opts)));
  tools
    .command('grant <name>')
    .description('grant a tool permissions (network hosts, secrets)')
    .option('--host <host>', 'a host it may fetch from (repeatable; *.example.com for subdomains)', collect, [])
    .option('--secret <name>', 'a secret it may read (repeatable)', collect, [])
    .action(wrap(async (out, name: string, opts: { host: string[]; secret: string[] }) => (await toolsCommands()).toolsGrant(out, name, opts)));

  const chains = program.command('chains').description('chain definitions and runs');
  chains
    .command('create')
    .description('create a chain from a YAML/JSON file')
    .requiredOption('-f, --file <file>', 'chain definition (- for stdin)')
    .option('--id <id>', 'chain id (overrides the file)')
    .option('--update', 'if the chain exists, make the file its next version')
    .action(wrap(async (out, opts: { file: string; id?: string; update?: boolean }) => (await chainsCommands()).chainsCreate(out, opts)));
  chains.command('list').description('list chains').action(wrap(async (out) => (await chainsCommands()).chainsList(out)));
  chains
    .command('run <chain>')
    .description('run a chain, showing each step as it goes')
    .option('-i, --input <json>', 'the run input as JSON')
    .option('--detach', 'start the run and print its id without following it')
    .action(wrap(async (out, chain: string, opts: { input?: string; detach?: boolean }) => (await chainsCommands()).chainsRun(out, chain, opts)));
  chains
    .command('watch <run>')
    .description("follow a run's events (replays what happened so far)")
    .option('--after <sequence>', 'only events after this sequence', parseCount)
    .action(wrap(async (out, run: string, opts: { after?: number }) => (await chainsCommands()).chainsWatch(out, run, opts)));

  const keys = program.command('keys').description('API keys (admin; sends ELIXIRCHAIN_TOKEN, talks to memory)');
  keys
    .command('create')
    .description('create an API key; prints its token once')
    .requiredOption('--tenant <tenant>', 'the tenant whose resources the key reaches')
    .requiredOption('--role <role>', 'admin | developer | user')
    .option('--description <text>', 'what the key is for')
    .option('--expires-in <seconds>', 'lifetime in seconds (default: no expiry)', parseSeconds)
    .action(wrap(async (out, opts: { tenant: string; role: string; description?: string; expiresIn?: number }) => (await keysCommands()).keysCreate(out, opts)));
  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--tenant <tenant>', 'only keys of this tenant')
    .option('--all', 'include revoked keys')
    .action(wrap(async (out, opts: { tenant?: string; all?: boolean }) => (await keysCommands()).keysList(out, opts)));
  keys.command('revoke <id>').description('revoke an API key').action(wrap(async (out, id: string) => (await keysCommands()).keysRevoke(out, id)));

  const runs = program.command('runs').description('chain runs');
  runs
    .command('list')
    .description('list runs')
    .option('--chain <id>', 'only runs of this chain')
    .option('--status <status>', 'pending | running | succeeded | failed | cancelled | paused')
    .action(wrap(async (out, opts: { chain?: string; status?: string }) => (await chainsCommands()).runsList(out, opts)));
  runs.command('get <run>').description('show a run and its steps').action(wrap(async (out, run: string) => (await chainsCommands()).runsGet(out, run)));
  runs
    .command('cancel <run>')
    .description('cancel a run and the work it started')
    .option('--reason <text>', 'recorded with the cancellation')
    .action(wrap(async (out, run: string, opts: { reason?: string }) => (await chainsCommands()).runsCancel(out, run, opts)));
  runs
    .command('resume <run>')
    .description('resume a failed or paused run from where it stopped')
    .option('--watch', 'follow it after resuming')
    .action(wrap(async (out, run: string, opts: { watch?: boolean }) => (await chainsCommands()).runsResume(out, run, opts)));

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number: ${value}`);
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a number of seconds: ${value}`);
  return n;
}

/** Runs an action with the global --json flag; errors become one line on stderr and exit 1. */
export function wrap(action: Action): (...args: any[]) => Promise<void> {
  return async (...args: any[]) => {
    const command = args[args.length - 1] as Command;
    const out = new Output(Boolean(command.optsWithGlobals().json));
    try {
      const code = await action(out, ...args.slice(0, -1));
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      const report = describeError(err);
      if (out.json) process.stdout.write(`${JSON.stringify({ error: report })}\n`);
      process.stderr.write(`error: ${report.line}\n`);
      process.exitCode = 1;
    }
  };
}
