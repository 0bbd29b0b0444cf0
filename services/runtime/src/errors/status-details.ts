import { Metadata, status as GrpcCode } from '@grpc/grpc-js';
import type { ServiceError, StatusObject } from '@grpc/grpc-js';
import { Any } from '@elixirchain/proto/google/protobuf/any';
import { BadRequest, ErrorInfo, RetryInfo } from '@elixirchain/proto/google/rpc/error_details';
import { Status } from '@elixirchain/proto/google/rpc/status';
import { ERROR_DOMAIN, ElixirError } from './elixir-error.js';

// Maps ElixirError ⇄ gRPC status with google.rpc details in `grpc-status-details-bin`,
// the binary trailer every gRPC implementation knows how to read.

const DETAILS_KEY = 'grpc-status-details-bin';
const TYPE_PREFIX = 'type.googleapis.com/';
const ERROR_INFO = `${TYPE_PREFIX}google.rpc.ErrorInfo`;
const BAD_REQUEST = `${TYPE_PREFIX}google.rpc.BadRequest`;
const RETRY_INFO = `${TYPE_PREFIX}google.rpc.RetryInfo`;

/** The error as a google.rpc.Status message (for events that carry a failure). */
export function toRpcStatus(error: unknown): Status {
  const e = asElixirError(error);
  const details: Any[] = [
    { typeUrl: ERROR_INFO, value: Buffer.from(ErrorInfo.encode({ reason: e.reason, domain: ERROR_DOMAIN, metadata: e.metadata }).finish()) },
  ];
  if (e.fieldViolations.length > 0) {
    details.push({
      typeUrl: BAD_REQUEST,
      value: Buffer.from(
        BadRequest.encode(
          BadRequest.fromPartial({ fieldViolations: e.fieldViolations.map((v) => ({ field: v.field, description: v.description })) }),
        ).finish(),
      ),
    });
  }
  if (e.retryAfterMs !== undefined) {
    const seconds = Math.floor(e.retryAfterMs / 1000);
    details.push({
      typeUrl: RETRY_INFO,
      value: Buffer.from(RetryInfo.encode({ retryDelay: { seconds, nanos: (e.retryAfterMs % 1000) * 1_000_000 } }).finish()),
    });
  }
  return { code: e.code, message: e.message, details };
}

/** Reads a google.rpc.Status (from an event or a trailer) back into an ElixirError. */
export function fromRpcStatus(status: Status): ElixirError {
  let reason = GrpcCode[status.code] ?? 'UNKNOWN';
  let metadata: Record<string, string> = {};
  const fieldViolations: { field: string; description: string }[] = [];
  let retryAfterMs: number | undefined;
  for (const detail of status.details ?? []) {
    try {
      if (detail.typeUrl === ERROR_INFO) {
        const info = ErrorInfo.decode(detail.value);
        reason = info.reason || reason;
        metadata = info.metadata;
      } else if (detail.typeUrl === BAD_REQUEST) {
        for (const v of BadRequest.decode(detail.value).fieldViolations) fieldViolations.push({ field: v.field, description: v.description });
      } else if (detail.typeUrl === RETRY_INFO) {
        const delay = RetryInfo.decode(detail.value).retryDelay;
        if (delay) retryAfterMs = delay.seconds * 1000 + Math.round(delay.nanos / 1_000_000);
      }
    } catch {
      // A detail we cannot decode is dropped; the code and message still stand.
    }
  }
  return new ElixirError(status.code, reason, status.message, { metadata, fieldViolations, retryAfterMs });
}

/** What a server sends for a failed call: code, message and the details trailer. */
export function toStatusObject(error: unknown): Partial<StatusObject> & { code: GrpcCode; details: string; metadata: Metadata } {
  const e = asElixirError(error);
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(Status.encode(toRpcStatus(e)).finish()));
  return { code: e.code, details: e.message, metadata };
}

/** Decodes a grpc-js client error (with its details trailer) into an ElixirError. */
export function fromServiceError(error: ServiceError): ElixirError {
  const raw = error.metadata?.get(DETAILS_KEY)?.[0];
  if (raw instanceof Buffer) {
    try {
      const decoded = fromRpcStatus(Status.decode(raw));
      return new ElixirError(error.code, decoded.reason, error.details || decoded.message, {
        metadata: decoded.metadata,
        fieldViolations: decoded.fieldViolations,
        retryAfterMs: decoded.retryAfterMs,
        cause: error,
      });
    } catch {
      // fall through to the bare status
    }
  }
  return new ElixirError(error.code ?? GrpcCode.UNKNOWN, GrpcCode[error.code] ?? 'UNKNOWN', error.details || error.message, { cause: error });
}

function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && typeof (value as ServiceError).code === 'number' && typeof (value as ServiceError).metadata?.get === 'function';
}

/** An ElixirError from another copy of this module (a second module instance loaded by a dynamic import). */
function isForeignElixirError(value: unknown): value is ElixirError {
  const e = value as Partial<ElixirError> | null;
  return value instanceof Error && e?.name === 'ElixirError' && typeof e.code === 'number' && typeof e.reason === 'string';
}

/**
 * Anything thrown, as an ElixirError. A downstream gRPC failure keeps its code
 * and details; an unexpected exception becomes INTERNAL without leaking its text.
 */
export function asElixirError(error: unknown): ElixirError {
  if (error instanceof ElixirError) return error;
  if (isForeignElixirError(error)) {
    return new ElixirError(error.code, error.reason, error.message, {
      metadata: error.metadata,
      fieldViolations: error.fieldViolations,
      retryAfterMs: error.retryAfterMs,
      cause: error,
    });
  }
  if (isServiceError(error)) return fromServiceError(error);
  if (error instanceof Error && error.name === 'AbortError') return new ElixirError(GrpcCode.CANCELLED, 'CANCELLED', 'cancelled', { cause: error });
  return new ElixirError(GrpcCode.INTERNAL, 'INTERNAL', 'internal error', { cause: error });
}
