import path from 'node:path';
import { Launcher, type MeshInfo } from '../launcher/launcher.js';
import { SERVICES } from '../launcher/service-catalog.js';
import { describeError } from '../output/error-report.js';
import type { Output } from '../output/output.js';

export interface StartOptions {
  demo: boolean;
  logs: boolean;
  dataDir?: string;
  graceMs?: number;
  readyTimeoutMs?: number;
  serviceEntry?: string;
  /** The web console beside the mesh (ELIXIRCHAIN_CONSOLE_ADDR, default 127.0.0.1:8080); false for none. */
  console?: boolean;
}

export type DemoSeeder = (addresses: MeshInfo['addresses'], print: (line: string) => void) => Promise<void>;

/** `elixirchain start`: runs the mesh in the foreground until SIGINT/SIGTERM. Returns the exit code. */
export async function runStart(options: StartOptions, out: Output, seedDemo: DemoSeeder | undefined): Promise<number> {
  const print = (line: string) => out.note(line);
  const launcher = new Launcher({
    dataDir: options.dataDir,
    logs: options.logs ? 'inherit' : 'files',
    graceMs: options.graceMs,
    readyTimeoutMs: options.readyTimeoutMs,
    print,
    entryFor: options.serviceEntry ? () => path.resolve(options.serviceEntry!) : undefined,
    // A failed seed is loud but leaves the mesh running: it is usable without the demo.
    afterReady: options.demo && seedDemo
      ? (mesh) => seedDemo(mesh.addresses, print).catch((err: unknown) => print(`WARNING: the demo was not seeded: ${describeError(err).line}\n  (the mesh is running; \`npx elixirchain seed-demo\` retries, \`--no-demo\` skips it)`))
      : undefined,
  });
  let webConsole: { url: string; stop(): Promise<void> } | undefined;
  // Idempotent: npm delivers SIGTERM twice, a terminal may send SIGINT more than once.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      void webConsole?.stop();
      if (launcher.state !== 'draining' && launcher.state !== 'stopped') print(`\n${signal}: draining the services…`);
      void launcher.stop(0, `received ${signal}`);
    });
  }
  print(`Starting ElixirChain (data in ${shortPath(launcher.dataDir)}${launcher.logDir ? `, logs in ${shortPath(launcher.logDir)}` : ''})`);
  try {
    const mesh = await launcher.start();
    if (options.console !== false) {
      const { startMeshConsole } = await import('@elixirchain/console');
      webConsole = await startMeshConsole({ addresses: mesh.addresses, print });
    }
    out.result({ state: 'running', ...mesh, console: webConsole?.url }, () => {
      print('');
      print('ElixirChain is running:');
      for (const s of SERVICES) print(`  ${s.name.padEnd(15)} ${mesh.addresses[s.name]}`);
      if (webConsole) print(`  ${'console'.padEnd(15)} ${webConsole.url}`);
      if (options.demo) {
        print('\nTry:  npx elixirchain chat demo');
        // The offline model fills the first tool's input with the message itself.
        if (!process.env.OPENAI_API_KEY) print('      (offline scripted model: it calls the calculator with your message, so write arithmetic, e.g. "12 * (3 + 4)")');
      }
      print('Stop with Ctrl-C.');
    });
  } catch {
    // The outcome below carries the reason.
  }
  const outcome = await launcher.done;
  await webConsole?.stop();
  if (outcome.exitCode !== 0) out.note(`elixirchain start: ${outcome.reason}`);
  else print('All services stopped.');
  return outcome.exitCode;
}

/** Relative to the working directory when inside it, else absolute. */
function shortPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}
