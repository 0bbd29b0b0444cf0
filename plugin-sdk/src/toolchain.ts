// The programmatic side of the CLI, for scripts and launchers that build,
// verify and publish tools without shelling out.
export { buildToolProject, packTool, readBuiltTool, resolveToolEntry } from './project/tool-project.js';
export type { BuiltTool, BuildOptions } from './project/tool-project.js';
export { BundleError } from './bundle/bundle-error.js';
export { ManifestError, checkManifest } from './manifest/tool-manifest.js';
export type { ToolManifest } from './manifest/tool-manifest.js';
export { ToolSandboxClient } from './client/tool-sandbox-client.js';
export type { InvokeOptions, PublishedTool, ToolSandboxClientOptions } from './client/tool-sandbox-client.js';
export { ToolCallError } from './client/tool-call-error.js';
export type { FieldViolation, ToolCallErrorCode } from './client/tool-call-error.js';
export type { ToolCallEvent, ToolCallResult } from './client/tool-call-event.js';
export { main as runCli } from './cli/main.js';
