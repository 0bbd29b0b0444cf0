import { asElixirError, GrpcCode, type ElixirError } from '@elixirchain/runtime';

/** The HTTP status for each gRPC code (the mapping google.api.http and grpc-gateway use). */
const HTTP_STATUS: Record<number, number> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.CANCELLED]: 499,
  [GrpcCode.UNKNOWN]: 500,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.FAILED_PRECONDITION]: 400,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.INTERNAL]: 500,
  [GrpcCode.UNAVAILABLE]: 503,
  [GrpcCode.DATA_LOSS]: 500,
  [GrpcCode.UNAUTHENTICATED]: 401,
};

export interface ErrorBody {
  error: {
    /** gRPC status code number and name, e.g. 3 / "INVALID_ARGUMENT". */
    code: number;
    codeName: string;
    /** google.rpc.ErrorInfo reason, e.g. "AGENT_NOT_FOUND". */
    reason: string;
    message: string;
    fieldViolations: { field: string; description: string }[];
    retryAfterMs?: number;
    metadata: Record<string, string>;
  };
}

export function httpStatusOf(error: ElixirError): number {
  return HTTP_STATUS[error.code] ?? 500;
}

/** What the browser gets for a failed call: the service's status, unchanged, as JSON. */
export function errorBody(thrown: unknown): { status: number; body: ErrorBody } {
  const error = asElixirError(thrown);
  return {
    status: httpStatusOf(error),
    body: {
      error: {
        code: error.code,
        codeName: error.codeName,
        reason: error.reason,
        message: error.message,
        fieldViolations: error.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
        metadata: error.metadata,
      },
    },
  };
}
