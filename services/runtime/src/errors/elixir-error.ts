import { status as GrpcCode } from '@grpc/grpc-js';

/** The domain of every ErrorInfo this mesh produces. */
export const ERROR_DOMAIN = 'elixirchain.dev';

export { GrpcCode };

export interface FieldViolation {
  /** Path of the offending field, e.g. `messages[2].content`. */
  field: string;
  description: string;
}

export interface ElixirErrorOptions {
  /** Key/value facts for ErrorInfo.metadata, e.g. { currentVersion: '7' }. */
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
  /** Sent as google.rpc.RetryInfo: when the caller may try again. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error type of the mesh: a gRPC code, a stable machine-readable
 * reason (UPPER_SNAKE_CASE) and a message for humans. The server maps it to
 * a status with google.rpc details; clients get it back decoded.
 */
export class ElixirError extends Error {
  readonly code: GrpcCode;
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterMs: number | undefined;

  constructor(code: GrpcCode, reason: string, message: string, options: ElixirErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ElixirError';
    this.code = code;
    this.reason = reason;
    this.metadata = options.metadata ?? {};
    this.fieldViolations = options.fieldViolations ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The gRPC code's name, e.g. "INVALID_ARGUMENT". */
  get codeName(): string {
    return GrpcCode[this.code] ?? String(this.code);
  }

  static is(value: unknown, code?: GrpcCode): value is ElixirError {
    return value instanceof ElixirError && (code === undefined || value.code === code);
  }
}

const kindReason = (kind: string) => kind.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();

/** Factories for the errors services raise; the reason strings are part of the API. */
export const errors = {
  invalidArgument(field: string, description: string, reason = 'INVALID_ARGUMENT'): ElixirError {
    return new ElixirError(GrpcCode.INVALID_ARGUMENT, reason, `${field}: ${description}`, {
      fieldViolations: [{ field, description }],
    });
  },
  invalidArguments(violations: FieldViolation[], reason = 'INVALID_ARGUMENT'): ElixirError {
    const message = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
    return new ElixirError(GrpcCode.INVALID_ARGUMENT, reason, message, { fieldViolations: violations });
  },
  notFound(kind: string, id: string): ElixirError {
    return new ElixirError(GrpcCode.NOT_FOUND, `${kindReason(kind)}_NOT_FOUND`, `${kind} "${id}" not found`, {
      metadata: { kind, id },
    });
  },
  alreadyExists(kind: string, id: string): ElixirError {
    return new ElixirError(GrpcCode.ALREADY_EXISTS, `${kindReason(kind)}_ALREADY_EXISTS`, `${kind} "${id}" already exists`, {
      metadata: { kind, id },
    });
  },
  /** A compare-and-set lost: metadata carries the current version. */
  aborted(reason: string, message: string, metadata: Record<string, string> = {}): ElixirError {
    return new ElixirError(GrpcCode.ABORTED, reason, message, { metadata });
  },
  failedPrecondition(reason: string, message: string, metadata: Record<string, string> = {}): ElixirError {
    return new ElixirError(GrpcCode.FAILED_PRECONDITION, reason, message, { metadata });
  },
  resourceExhausted(reason: string, message: string, retryAfterMs: number, metadata: Record<string, string> = {}): ElixirError {
    return new ElixirError(GrpcCode.RESOURCE_EXHAUSTED, reason, message, { retryAfterMs, metadata });
  },
  permissionDenied(reason: string, message: string, metadata: Record<string, string> = {}): ElixirError {
    return new ElixirError(GrpcCode.PERMISSION_DENIED, reason, message, { metadata });
  },
  unauthenticated(message = 'missing or invalid credentials'): ElixirError {
    return new ElixirError(GrpcCode.UNAUTHENTICATED, 'UNAUTHENTICATED', message);
  },
  deadlineExceeded(message: string, reason = 'DEADLINE_EXCEEDED'): ElixirError {
    return new ElixirError(GrpcCode.DEADLINE_EXCEEDED, reason, message);
  },
  cancelled(message = 'cancelled', reason = 'CANCELLED'): ElixirError {
    return new ElixirError(GrpcCode.CANCELLED, reason, message);
  },
  unavailable(reason: string, message: string, retryAfterMs?: number): ElixirError {
    return new ElixirError(GrpcCode.UNAVAILABLE, reason, message, { retryAfterMs });
  },
  unimplemented(method: string): ElixirError {
    return new ElixirError(GrpcCode.UNIMPLEMENTED, 'UNIMPLEMENTED', `${method} is not implemented`);
  },
  internal(reason: string, message: string, cause?: unknown): ElixirError {
    return new ElixirError(GrpcCode.INTERNAL, reason, message, { cause });
  },
};
