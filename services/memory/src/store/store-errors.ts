// The errors every Store backend throws: the runtime's ElixirError, built by
// these factories so every backend uses the same codes, reasons and metadata
// keys (the contract suite checks them).
import { ElixirError, GrpcCode } from '@elixirchain/runtime';

/** gRPC status codes used by the store. */
export const StoreErrorCode = {
  INVALID_ARGUMENT: GrpcCode.INVALID_ARGUMENT,
  NOT_FOUND: GrpcCode.NOT_FOUND,
  FAILED_PRECONDITION: GrpcCode.FAILED_PRECONDITION,
  ABORTED: GrpcCode.ABORTED,
  ALREADY_EXISTS: GrpcCode.ALREADY_EXISTS,
  INTERNAL: GrpcCode.INTERNAL,
  UNAVAILABLE: GrpcCode.UNAVAILABLE,
} as const;

/** Stable ErrorInfo reasons; clients may switch on them. */
export const StoreErrorReason = {
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  THREAD_NOT_FOUND: 'THREAD_NOT_FOUND',
  NAMESPACE_NOT_FOUND: 'NAMESPACE_NOT_FOUND',
  MEMORY_NOT_FOUND: 'MEMORY_NOT_FOUND',
  STATE_NOT_FOUND: 'STATE_NOT_FOUND',
  DIMENSION_MISMATCH: 'DIMENSION_MISMATCH',
  INVALID_VECTOR: 'INVALID_VECTOR',
  INVALID_FILTER: 'INVALID_FILTER',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  REQUEST_ID_REUSED: 'REQUEST_ID_REUSED',
} as const;

export interface FieldViolation {
  field: string;
  description: string;
}

/** An ElixirError with the positional constructor backends use. */
export class StoreError extends ElixirError {
  constructor(
    code: GrpcCode,
    reason: string,
    message: string,
    metadata: Record<string, string> = {},
    fieldViolations: FieldViolation[] = [],
  ) {
    super(code, reason, message, { metadata, fieldViolations });
  }
}

export function isStoreError(error: unknown): error is ElixirError {
  return ElixirError.is(error);
}

function storeError(
  code: GrpcCode,
  reason: string,
  message: string,
  metadata: Record<string, string> = {},
  fieldViolations: FieldViolation[] = [],
): ElixirError {
  return new StoreError(code, reason, message, metadata, fieldViolations);
}

/** CAS failure: the resource is not at the version the caller expected. */
export function versionConflict(
  resource: 'thread' | 'state',
  id: string,
  expectedVersion: number,
  currentVersion: number,
): ElixirError {
  return storeError(
    StoreErrorCode.ABORTED,
    StoreErrorReason.VERSION_CONFLICT,
    `${resource} "${id}" is at version ${currentVersion}, expected ${expectedVersion}`,
    {
      resource,
      id,
      expectedVersion: String(expectedVersion),
      currentVersion: String(currentVersion),
    },
  );
}

export function threadNotFound(threadId: string): ElixirError {
  return storeError(StoreErrorCode.NOT_FOUND, StoreErrorReason.THREAD_NOT_FOUND, `thread "${threadId}" not found`, {
    threadId,
  });
}

export function namespaceNotFound(namespace: string): ElixirError {
  return storeError(
    StoreErrorCode.NOT_FOUND,
    StoreErrorReason.NAMESPACE_NOT_FOUND,
    `namespace "${namespace}" not found`,
    { namespace },
  );
}

export function memoryNotFound(namespace: string, id: string): ElixirError {
  return storeError(
    StoreErrorCode.NOT_FOUND,
    StoreErrorReason.MEMORY_NOT_FOUND,
    `memory "${id}" not found in namespace "${namespace}"`,
    { namespace, id },
  );
}

export function stateNotFound(key: string): ElixirError {
  return storeError(StoreErrorCode.NOT_FOUND, StoreErrorReason.STATE_NOT_FOUND, `state key "${key}" not found`, {
    key,
  });
}

export function dimensionMismatch(field: string, namespace: string, expected: number, actual: number): ElixirError {
  return storeError(
    StoreErrorCode.INVALID_ARGUMENT,
    StoreErrorReason.DIMENSION_MISMATCH,
    `namespace "${namespace}" holds ${expected}-dimensional vectors; ${field} has ${actual}`,
    { namespace, expectedDimensions: String(expected), actualDimensions: String(actual) },
    [{ field, description: `expected ${expected} dimensions, got ${actual}` }],
  );
}

export function invalidArgument(field: string, description: string, reason: string = StoreErrorReason.INVALID_ARGUMENT): ElixirError {
  return storeError(StoreErrorCode.INVALID_ARGUMENT, reason, `${field}: ${description}`, { field }, [
    { field, description },
  ]);
}

/** A request_id already used for a different operation or target. */
export function requestIdReused(requestId: string, description: string): ElixirError {
  return storeError(
    StoreErrorCode.FAILED_PRECONDITION,
    StoreErrorReason.REQUEST_ID_REUSED,
    `request_id "${requestId}" was already used ${description}`,
    { requestId },
  );
}
