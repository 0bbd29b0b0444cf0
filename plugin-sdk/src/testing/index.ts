// What a tool's tests import: testTool() runs the tool in the production
// sandbox engine with the limits and permissions the tool declares.
export { testTool } from './test-tool.js';
export type { TestToolOptions, ToolUnderTest, TestInvokeOptions } from './test-tool.js';
export { ToolCallError } from '../client/tool-call-error.js';
export type { ToolCallErrorCode, FieldViolation } from '../client/tool-call-error.js';
export type { ToolCallEvent, ToolCallResult } from '../client/tool-call-event.js';
