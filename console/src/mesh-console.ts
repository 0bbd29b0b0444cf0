import { buildUi, UI_DIST, uiBuilt } from './build/ui-build.js';
import { consoleAddressFromEnv } from './console-address.js';
import { consoleSettingsFromEnv } from './console-settings.js';
import { startConsoleGateway, type ConsoleGateway } from './gateway/console-gateway.js';

export interface MeshConsoleOptions {
  /** The launcher's addresses, keyed by service name. */
  addresses: { memory: string; 'tool-sandbox': string; 'agent-host': string; 'chain-executor': string };
  env?: NodeJS.ProcessEnv;
  print: (line: string) => void;
}

/**
 * The console as `npm start` runs it, beside the mesh: on ELIXIRCHAIN_CONSOLE_ADDR
 * (default 127.0.0.1:8080, "off" for none). A missing UI build is made in the
 * background while the gateway already answers, so start-up never waits for it.
 * Never fatal: the mesh is usable without its console.
 */
export async function startMeshConsole(options: MeshConsoleOptions): Promise<ConsoleGateway | undefined> {
  const address = consoleAddressFromEnv(options.env);
  if (!address) return undefined;
  let gateway: ConsoleGateway;
  try {
    gateway = await startConsoleGateway({
      address,
      ...consoleSettingsFromEnv(options.env),
      services: {
        memory: options.addresses.memory,
        toolSandbox: options.addresses['tool-sandbox'],
        agentHost: options.addresses['agent-host'],
        chainExecutor: options.addresses['chain-executor'],
      },
    });
  } catch (error) {
    options.print(`WARNING: the console did not start on ${address}: ${(error as Error).message} (set ELIXIRCHAIN_CONSOLE_ADDR to another host:port, or "off")`);
    return undefined;
  }
  if (!uiBuilt()) {
    const building = new AbortController();
    const stopGateway = gateway.stop;
    gateway = { ...gateway, stop: () => (building.abort(), stopGateway()) };
    buildUi({ print: options.print, atomic: true, signal: building.signal }).then(
      () => options.print(`console UI built (${UI_DIST})`),
      (error: unknown) => !building.signal.aborted && options.print(`WARNING: the console UI could not be built: ${(error as Error).message}\n  (the API under ${gateway.url}/api still works; try \`npm run build -w console\`)`),
    );
  }
  return gateway;
}
