// The part of the SDK a tool's own code imports. It ends up inside the tool's
// bundle, so it must stay free of Node APIs and of anything heavy.
export { defineTool, isTool, DEFAULT_LIMITS } from './tool/define-tool.js';
export type { Tool, ToolDefinition, ToolMetadata, InferToolInput, InferToolCallInput, InferToolOutput } from './tool/define-tool.js';
export { ToolDefinitionError } from './tool/tool-definition-error.js';
export { ToolInputError } from './tool/tool-input-error.js';
export { toJsonSchema, JSON_SCHEMA_2020_12 } from './tool/tool-schema.js';
export type { ToolSchema } from './tool/tool-schema.js';
export type {
  JsonSchema,
  JsonValue,
  ToolAbortSignal,
  ToolAnnotations,
  ToolContext,
  ToolContextReuse,
  ToolErrorCode,
  ToolFetchInit,
  ToolFetchResponse,
  ToolLimits,
  ToolLogLevel,
  ToolPermissions,
  ToolRetryPolicy,
  ToolSecrets,
} from './tool/tool-types.js';
