// The errors every Store backend throws. Until @elixirchain/runtime's ElixirError
// lands, this module is the single place that builds them; callers only use
// these factories so switching the implementation changes no call site.

/** gRPC status codes used by the store (numeric values of grpc.status). */
export const StoreErrorCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
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

export class StoreError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];

  constructor(
    code: number,
    reason: string,
    message: string,
    metadata: Record<string, string> = {},
    fieldViolations: FieldViolation[] = [],
  ) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.reason = reason;
    this.metadata = metadata;
    this.fieldViolations = fieldViolations;
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}

/** CAS failure: the resource is not at the version the caller expected. */
export function versionConflict(
  resource: 'thread' | 'state',
  id: string,
  expectedVersion: number,
  currentVersion: number,
): StoreError {
  return new StoreError(
    StoreErrorCode.ABORTED,
    StoreErrorReason.VERSION_CONFLICT,
    `${resource} "${id}" is at version ${currentVersion}, expected ${expectedVersion}`,
    {
      resource,
      id,
      expected_version: String(expectedVersion),
      current_version: String(currentVersion),
    },
  );
}

export function threadNotFound(threadId: string): StoreError {
  return new StoreError(StoreErrorCode.NOT_FOUND, StoreErrorReason.THREAD_NOT_FOUND, `thread "${threadId}" not found`, {
    thread_id: threadId,
  });
}

export function namespaceNotFound(namespace: string): StoreError {
  return new StoreError(
    StoreErrorCode.NOT_FOUND,
    StoreErrorReason.NAMESPACE_NOT_FOUND,
    `namespace "${namespace}" not found`,
    { namespace },
  );
}

export function memoryNotFound(namespace: string, id: string): StoreError {
  return new StoreError(
    StoreErrorCode.NOT_FOUND,
    StoreErrorReason.MEMORY_NOT_FOUND,
    `memory "${id}" not found in namespace "${namespace}"`,
    { namespace, id },
  );
}

export function stateNotFound(key: string): StoreError {
  return new StoreError(StoreErrorCode.NOT_FOUND, StoreErrorReason.STATE_NOT_FOUND, `state key "${key}" not found`, {
    key,
  });
}

export function dimensionMismatch(field: string, namespace: string, expected: number, actual: number): StoreError {
  return new StoreError(
    StoreErrorCode.INVALID_ARGUMENT,
    StoreErrorReason.DIMENSION_MISMATCH,
    `namespace "${namespace}" holds ${expected}-dimensional vectors; ${field} has ${actual}`,
    { namespace, expected_dimensions: String(expected), actual_dimensions: String(actual) },
    [{ field, description: `expected ${expected} dimensions, got ${actual}` }],
  );
}

export function invalidArgument(field: string, description: string, reason: string = StoreErrorReason.INVALID_ARGUMENT): StoreError {
  return new StoreError(StoreErrorCode.INVALID_ARGUMENT, reason, `${field}: ${description}`, { field }, [
    { field, description },
  ]);
}

/** A request_id already used for a different operation or target. */
export function requestIdReused(requestId: string, description: string): StoreError {
  return new StoreError(
    StoreErrorCode.FAILED_PRECONDITION,
    StoreErrorReason.REQUEST_ID_REUSED,
    `request_id "${requestId}" was already used ${description}`,
    { request_id: requestId },
  );
}
