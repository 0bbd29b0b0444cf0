// The runtime's dependency-free core: the error type and tenancy constants. The plugin SDK
// bundles the sandbox engine against this instead of the whole runtime (no servers, no network).
export * from './errors/index.js';
export { SHARED_TENANT } from './auth/principal.js';
