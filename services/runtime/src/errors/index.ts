export { ElixirError, errors, ERROR_DOMAIN, GrpcCode } from './elixir-error.js';
export type { ElixirErrorOptions, FieldViolation } from './elixir-error.js';
export { asElixirError, fromRpcStatus, fromServiceError, toRpcStatus, toStatusObject } from './status-details.js';
