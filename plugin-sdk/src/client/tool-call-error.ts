import { status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, RetryInfo } from '@elixirchain/proto/google/rpc/error_details';
import { Status } from '@elixirchain/proto/google/rpc/status';

/** The gRPC code name of a failure, e.g. "PERMISSION_DENIED". */
export type ToolCallErrorCode = keyof typeof GrpcCode;

/** A google.rpc.Status as it arrives in a tool's error event. */
export interface RpcStatusLike {
  code: number;
  message: string;
  details?: Array<{ typeUrl: string; value: Uint8Array }>;
}

export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A tool call that failed (in the sandbox or in the test harness, with the
 * same fields), or a failed call to a tool-sandbox:
 * the gRPC code, the stable `reason` from google.rpc.ErrorInfo, and field
 * violations / retry delay when the service sent them.
 */
export class ToolCallError extends Error {
  override readonly name = 'ToolCallError';
  readonly code: ToolCallErrorCode;
  readonly grpcCode: number;
  readonly reason?: string;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterMs?: number;
  readonly metadata: Record<string, string>;

  constructor(init: { grpcCode: number; message: string; reason?: string; fieldViolations?: FieldViolation[]; retryAfterMs?: number; metadata?: Record<string, string> }) {
    const code = codeName(init.grpcCode);
    super(`${code}${init.reason ? ` (${init.reason})` : ''}: ${init.message}`);
    this.code = code;
    this.grpcCode = init.grpcCode;
    this.reason = init.reason;
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterMs = init.retryAfterMs;
    this.metadata = init.metadata ?? {};
  }

  /** Builds the error from a google.rpc.Status (as carried in a ToolError event). */
  static fromStatus(status: RpcStatusLike): ToolCallError {
    return new ToolCallError({ grpcCode: status.code, message: status.message, ...readDetails(status) });
  }

  /** Builds the error from a grpc-js ServiceError, decoding `grpc-status-details-bin`. */
  static fromServiceError(error: ServiceError): ToolCallError {
    const raw = error.metadata?.get('grpc-status-details-bin')?.[0];
    let details: ReturnType<typeof readDetails> = {};
    if (raw instanceof Uint8Array) {
      try {
        details = readDetails(Status.decode(raw));
      } catch {
        // undecodable details: keep the code and message
      }
    }
    return new ToolCallError({ grpcCode: error.code ?? GrpcCode.UNKNOWN, message: error.details || error.message, ...details });
  }
}

function codeName(code: number): ToolCallErrorCode {
  const entry = Object.entries(GrpcCode).find(([, value]) => value === code);
  return (entry?.[0] ?? 'UNKNOWN') as ToolCallErrorCode;
}

function readDetails(status: RpcStatusLike): { reason?: string; fieldViolations?: FieldViolation[]; retryAfterMs?: number; metadata?: Record<string, string> } {
  const result: ReturnType<typeof readDetails> = {};
  for (const detail of status.details ?? []) {
    const type = detail.typeUrl.slice(detail.typeUrl.lastIndexOf('/') + 1);
    if (type === 'google.rpc.ErrorInfo') {
      const info = ErrorInfo.decode(detail.value);
      result.reason = info.reason;
      result.metadata = info.metadata;
    } else if (type === 'google.rpc.BadRequest') {
      result.fieldViolations = BadRequest.decode(detail.value).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
    } else if (type === 'google.rpc.RetryInfo') {
      const delay = RetryInfo.decode(detail.value).retryDelay;
      if (delay) result.retryAfterMs = delay.seconds * 1000 + Math.round(delay.nanos / 1e6);
    }
  }
  return result;
}
