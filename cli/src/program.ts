import { Command, Option } from 'commander';
import { runStart } from './commands/start.js';
import { runStatus } from './commands/status.js';
import { SERVICE_NAMES } from './launcher/service-catalog.js';
import { Output } from './output/output.js';
import { describeError } from './output/error-report.js';

type Action = (out: Output, ...args: any[]) => Promise<number | void>;

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
    .option('--logs', "show the services' JSON logs here instead of in <data dir>/logs/")
    .option('--data-dir <dir>', 'on-disk data (default: $ELIXIRCHAIN_DATA_DIR or ./.elixirchain)')
    .option('--grace <seconds>', 'how long each service may drain on shutdown', parseSeconds, 10)
    // Tests run the real launcher process over stand-in services.
    .addOption(new Option('--service-entry <file>', 'run this file as every service').hideHelp())
    .action(wrap(async (out, opts: { demo: boolean; logs?: boolean; dataDir?: string; grace: number; serviceEntry?: string }) => {
      const { seedDemo } = await import('./demo/demo-seed.js');
      const { dataDir, serviceEntry } = opts;
      return runStart({ demo: opts.demo, logs: opts.logs ?? false, dataDir, graceMs: opts.grace * 1000, serviceEntry }, out, seedDemo);
    }));

  program
    .command('status')
    .description('grpc.health.v1 status of each service (exit 1 unless all are SERVING)')
    .addOption(new Option('--service <name>', 'only this service').choices([...SERVICE_NAMES]))
    .option('--wait <seconds>', 'poll until SERVING, up to this long', parseSeconds, 0)
    .action(wrap((out, opts: { service?: string; wait: number }) => runStatus(opts, out)));

  return program;
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
