export { Launcher, type LauncherOptions, type LauncherOutcome, type MeshInfo } from './launcher/launcher.js';
export { checkHealth, waitForServing, type HealthReport } from './launcher/health-probe.js';
export { SERVICES, serviceAddress, serviceAddresses, type ServiceName } from './launcher/service-catalog.js';
export { buildProgram } from './program.js';
