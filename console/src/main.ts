// The console on its own (npm start runs it inside the launcher): ELIXIRCHAIN_CONSOLE_ADDR and the services' addresses from env.
import { meshAddresses } from '@elixirchain/runtime';
import { consoleAddressFromEnv, DEFAULT_CONSOLE_ADDRESS } from './console-address.js';
import { consoleSettingsFromEnv } from './console-settings.js';
import { buildUi, uiBuilt } from './build/ui-build.js';
import { startConsoleGateway } from './gateway/console-gateway.js';

const print = (line: string) => process.stdout.write(`${line}\n`);
if (!uiBuilt()) await buildUi({ print });
const gateway = await startConsoleGateway({ address: consoleAddressFromEnv() ?? DEFAULT_CONSOLE_ADDRESS, services: meshAddresses(), ...consoleSettingsFromEnv() });
print(`console listening on ${gateway.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void gateway.stop().then(() => process.exit(0)));
