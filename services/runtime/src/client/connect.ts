import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { fromServiceError } from '../errors/status-details.js';
import { errors, ElixirError, GrpcCode } from '../errors/elixir-error.js';
import { ON_BEHALF_OF_KEY, encodeActor } from '../auth/authenticator.js';
import { effectiveActor } from '../auth/principal.js';
import { currentCall } from '../server/call-context.js';
import { meshClientDefaults } from './mesh-credentials.js';
import type { DeepPartial, MethodDefinition, RequestOf, ResponseOf, ServiceDefinition } from '../server/service-definition.js';
import { contextWithSpan, endSpan, injectTraceContext, rpcSpanNames, startClientSpan } from '../telemetry/tracing.js';

export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Relative deadline for this call (unary default: the client's defaultTimeoutMs). */
  timeoutMs?: number;
  /** Absolute deadline. */
  deadline?: Date;
  metadata?: Record<string, string>;
}

export interface ClientTls {
  caFile: string;
  /** Client certificate for mTLS. */
  certFile?: string;
  keyFile?: string;
}

export interface ClientOptions {
  tls?: ClientTls;
  /** Deadline for unary calls that set none; default 30 s. Streams have none unless asked. */
  defaultTimeoutMs?: number;
  /** Attempts for retryable unary calls (UNAVAILABLE on an idempotent method); default 4. */
  maxAttempts?: number;
  /** Metadata sent with every call (e.g. authorization). */
  metadata?: Record<string, string>;
  maxMessageBytes?: number;
}

/** A server stream: iterate it; leaving the loop early cancels the call. */
export interface ResponseStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

type MethodFor<M> = M extends { responseStream: true }
  ? (request: DeepPartial<RequestOf<M>>, options?: CallOptions) => ResponseStream<ResponseOf<M>>
  : (request: DeepPartial<RequestOf<M>>, options?: CallOptions) => Promise<ResponseOf<M>>;

export type ServiceClient<S extends ServiceDefinition> = { [K in keyof S['methods']]: MethodFor<S['methods'][K]> } & {
  readonly address: string;
  /** Resolves once connected (or rejects after timeoutMs). */
  waitForReady(timeoutMs?: number): Promise<void>;
  close(): void;
};

/** Safe to retry on UNAVAILABLE: reads, and writes that carry a request_id. */
function isRetryable(method: MethodDefinition, request: unknown): boolean {
  if (/^(Get|List|Search|Watch)/.test(method.name)) return true;
  const requestId = (request as { requestId?: unknown } | null)?.requestId;
  return typeof requestId === 'string' && requestId.length > 0;
}

function credentialsFor(tls: ClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(
    readFileSync(tls.caFile),
    tls.keyFile ? readFileSync(tls.keyFile) : null,
    tls.certFile ? readFileSync(tls.certFile) : null,
  );
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

function ignoreError(): void {
  // Deliberately nothing: see the stream's 'error' listener.
}

const LEFT_STREAM_GRACE_MS = 500;

/**
 * The consumer left a stream before its status arrived. Usually it stopped at
 * the last message (a tool's result) and the server's trailers are on their
 * way: cancelling now turns a finished call into a CANCELLED one, for which
 * grpc-js builds an error with two formatted (source-mapped) stacks, a
 * measurable share of the call's CPU; and resetting thousands of streams back
 * to back made the server close the whole connection ("Session closed with
 * error code 2", failing every call on it). So the stream is read on and the
 * cancel waits: at once if the server sends another message, else after a
 * short grace, and not at all once the call has ended.
 */
function cancelUnlessEnded(call: grpc.ClientReadableStream<unknown>, ended: () => boolean): void {
  const cancel = () => {
    if (!ended()) call.cancel();
  };
  const timer = setTimeout(cancel, LEFT_STREAM_GRACE_MS).unref();
  call.once('status', () => clearTimeout(timer));
  call.on('data', cancel);
}

/**
 * A promise-based client for one service, derived from its generic
 * definition. Deadlines propagate: a call made while serving a call gets at
 * most what is left of that call's deadline.
 */
export function connect<S extends ServiceDefinition>(definition: S, address: string, options: ClientOptions = {}): ServiceClient<S> {
  // A service's own credentials (mTLS certificate, service token) from its environment, unless given.
  const mesh = meshClientDefaults();
  options = { ...options, tls: options.tls ?? mesh.tls, metadata: { ...mesh.metadata, ...options.metadata } };
  const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const client = new grpc.Client(address, credentialsFor(options.tls), {
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? 4;

  const deadlineFor = (callOptions: CallOptions, unary: boolean): number => {
    let deadline = Infinity;
    if (callOptions.deadline) deadline = callOptions.deadline.getTime();
    if (callOptions.timeoutMs !== undefined) deadline = Math.min(deadline, Date.now() + callOptions.timeoutMs);
    else if (unary && !callOptions.deadline) deadline = Math.min(deadline, Date.now() + defaultTimeoutMs);
    const inherited = currentCall()?.deadline;
    if (inherited) deadline = Math.min(deadline, inherited.getTime());
    return deadline;
  };

  const clientMetadata = Object.entries(options.metadata ?? {});
  const metadataFor = (callOptions: CallOptions): grpc.Metadata => {
    const metadata = new grpc.Metadata();
    for (const [k, v] of clientMetadata) metadata.set(k, v);
    // A call's own entries replace the client's.
    if (callOptions.metadata) for (const [k, v] of Object.entries(callOptions.metadata)) metadata.set(k, v);
    const serving = currentCall();
    if (serving?.requestId && !metadata.get('x-request-id').length) metadata.set('x-request-id', serving.requestId);
    // The callee trusts this only from a service principal: it says whose data the call is for.
    // A service that names the actor itself (background work pinned to a tenant) keeps its choice.
    if (serving && serving.principal.via !== 'local' && metadata.get(ON_BEHALF_OF_KEY).length === 0) {
      metadata.set(ON_BEHALF_OF_KEY, encodeActor(effectiveActor(serving.principal)));
    }
    return metadata;
  };

  const methods: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition.methods)) {
    const path = `/${definition.fullName}/${method.name}`;
    const spanNames = rpcSpanNames(path);
    const serialize = (value: unknown) => Buffer.from(method.requestType.encode(value).finish());
    const deserialize = (bytes: Buffer) => method.responseType.decode(bytes);

    if (!method.responseStream) {
      const once = (request: unknown, callOptions: CallOptions, deadline: number) =>
        new Promise<unknown>((resolve, reject) => {
          const span = startClientSpan(spanNames);
          const metadata = metadataFor(callOptions);
          injectTraceContext(metadata, contextWithSpan(span));
          const call = client.makeUnaryRequest(path, serialize, deserialize, request, metadata, { deadline }, (error, response) => {
            callOptions.signal?.removeEventListener('abort', onAbort);
            if (error) {
              endSpan(span, error.code, error.details);
              reject(fromServiceError(error));
            } else {
              endSpan(span, 0);
              resolve(response);
            }
          });
          const onAbort = () => call.cancel();
          if (callOptions.signal?.aborted) call.cancel();
          else callOptions.signal?.addEventListener('abort', onAbort, { once: true });
        });

      methods[name] = async (partial: unknown, callOptions: CallOptions = {}) => {
        const request = method.requestType.fromPartial(partial ?? {});
        const deadline = deadlineFor(callOptions, true);
        const retryable = isRetryable(method, request);
        for (let attempt = 1; ; attempt += 1) {
          try {
            return await once(request, callOptions, deadline);
          } catch (error) {
            const e = error as ElixirError;
            const backoff = Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random());
            const canRetry = retryable && e.code === GrpcCode.UNAVAILABLE && attempt < maxAttempts && Date.now() + backoff < deadline && !callOptions.signal?.aborted;
            if (!canRetry) throw e;
            await sleep(e.retryAfterMs ?? backoff, callOptions.signal);
          }
        }
      };
    } else {
      methods[name] = (partial: unknown, callOptions: CallOptions = {}): ResponseStream<unknown> => {
        const request = method.requestType.fromPartial(partial ?? {});
        const span = startClientSpan(spanNames);
        const metadata = metadataFor(callOptions);
        injectTraceContext(metadata, contextWithSpan(span));
        const call = client.makeServerStreamRequest(path, serialize, deserialize, request, metadata, { deadline: deadlineFor(callOptions, false) });
        const onAbort = () => call.cancel();
        if (callOptions.signal?.aborted) call.cancel();
        else callOptions.signal?.addEventListener('abort', onAbort, { once: true });
        let status = 0;
        let ended = false;
        call.once('status', () => (ended = true));
        // Errors reach the consumer through the iterator while it reads; after it stopped, nobody listens.
        call.on('error', ignoreError);
        async function* iterate() {
          let finished = false;
          try {
            // Not destroyed when the consumer leaves early: that would build an AbortError (with a stack) per call.
            for await (const message of call.iterator({ destroyOnReturn: false })) yield message;
            finished = true;
          } catch (error) {
            finished = true;
            const e = error instanceof Error && 'code' in error ? fromServiceError(error as grpc.ServiceError) : errors.internal('STREAM_FAILED', String(error));
            status = e.code;
            throw e;
          } finally {
            callOptions.signal?.removeEventListener('abort', onAbort);
            if (!finished && !ended) cancelUnlessEnded(call, () => ended);
            endSpan(span, status);
          }
        }
        const iterator = iterate();
        return { [Symbol.asyncIterator]: () => iterator, cancel: () => call.cancel() };
      };
    }
  }

  return Object.assign(methods, {
    address,
    waitForReady(timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(errors.unavailable('UNREACHABLE', `${definition.name} at ${address} is not reachable: ${error.message}`)) : resolve())),
      );
    },
    close() {
      client.close();
    },
  }) as unknown as ServiceClient<S>;
}
