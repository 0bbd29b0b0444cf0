// @elixirchain/console: the web console's gateway (browser JSON/SSE ⇄ mesh gRPC) and its UI build.
export { assertSafeConsoleBind, DEFAULT_UI_DIR, splitAddress, startConsoleGateway } from './gateway/console-gateway.js';
export type { ConsoleGateway, ConsoleGatewayOptions } from './gateway/console-gateway.js';
export { browserClientOptions } from './gateway/mesh-connections.js';
export type { MeshAddressBook } from './gateway/mesh-connections.js';
export { checkMeshHealth } from './gateway/mesh-health.js';
export type { ServiceHealth } from './gateway/mesh-health.js';
export { errorBody, httpStatusOf } from './gateway/http-error.js';
export { buildUi, UI_DIST, uiBuilt } from './build/ui-build.js';
export { consoleAddressFromEnv, DEFAULT_CONSOLE_ADDRESS } from './console-address.js';
export { startMeshConsole } from './mesh-console.js';
export type { MeshConsoleOptions } from './mesh-console.js';
export { consoleSettingsFromEnv, jaegerUrlFromEnv } from './console-settings.js';
export type { ConsoleEnvSettings } from './console-settings.js';
export { MeshStatusReader, replicaAddressesFromEnv } from './gateway/mesh-status.js';
export type { ReplicaAddressBook, ReplicaStatus } from './gateway/mesh-status.js';
