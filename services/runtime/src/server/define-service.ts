import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';
import { asElixirError, toStatusObject } from '../errors/status-details.js';
import { ElixirError, errors, GrpcCode } from '../errors/elixir-error.js';
import type { Logger } from '../logging/logger.js';
import { LOCAL_DEVELOPER } from '../auth/principal.js';
import type { Authenticator } from '../auth/authenticator.js';
import { contextWithSpan, endSpan, extractTraceContext, rpcSpanNames, startServerSpan, type RpcSpanNames } from '../telemetry/tracing.js';
import { runInCall } from './call-context.js';
import type { CallContext } from './call-context.js';
import type { DeepPartial, MethodDefinition, RequestOf, ResponseOf, ServiceDefinition } from './service-definition.js';

/** The writable half of a server-streaming call. */
export interface ServerStream<T> {
  /**
   * Sends one message and resolves when the transport can take more: await
   * it, and a slow client slows the producer instead of growing a buffer.
   * Rejects once the call has ended (client gone, deadline, drain).
   */
  write(message: DeepPartial<T>): Promise<void>;
  readonly signal: AbortSignal;
  /** True once the call ended for any reason. */
  readonly closed: boolean;
}

export type UnaryHandler<Req, Res> = (request: Req, call: CallContext) => Promise<DeepPartial<Res>> | DeepPartial<Res>;
export type ServerStreamHandler<Req, Res> = (request: Req, stream: ServerStream<Res>, call: CallContext) => Promise<void>;

type HandlerFor<M> = M extends { responseStream: true }
  ? ServerStreamHandler<RequestOf<M>, ResponseOf<M>>
  : UnaryHandler<RequestOf<M>, ResponseOf<M>>;

/** Handlers by method name (lowerCamel, as generated); a missing one answers UNIMPLEMENTED. */
export type ServiceHandlers<S extends ServiceDefinition> = { [K in keyof S['methods']]?: HandlerFor<S['methods'][K]> };

/** What a server tracks to drain: open streams and calls in flight. */
export interface CallTracker {
  logger: Logger;
  inflight: number;
  streams: Set<{ end(error: ElixirError): void }>;
  /** True while draining: new calls are refused with UNAVAILABLE. */
  draining: boolean;
  /** Absent in local developer mode: every call is the local developer. */
  authenticator?: Authenticator;
  onIdle(): void;
}

export interface ServiceBinding {
  definition: ServiceDefinition;
  bind(tracker: CallTracker): { grpcDefinition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation };
}

/** Marks a request whose bytes did not decode, so the handler wrapper answers INVALID_ARGUMENT. */
class UndecodableRequest {
  constructor(readonly cause: unknown) {}
}

export function defineService<S extends ServiceDefinition>(definition: S, handlers: ServiceHandlers<S>): ServiceBinding {
  for (const name of Object.keys(handlers)) {
    if (!(name in definition.methods)) throw new Error(`${definition.fullName} has no method ${name}`);
  }
  return {
    definition,
    bind(tracker) {
      const grpcDefinition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(definition.methods)) {
        if (method.requestStream) throw new Error(`${definition.fullName}/${method.name}: client streaming is not supported`);
        const path = `/${definition.fullName}/${method.name}`;
        grpcDefinition[name] = {
          path,
          requestStream: false,
          responseStream: method.responseStream,
          originalName: name,
          requestSerialize: (value: unknown) => Buffer.from(method.requestType.encode(method.requestType.fromPartial(value)).finish()),
          requestDeserialize: (bytes: Buffer) => {
            try {
              return method.requestType.decode(bytes);
            } catch (cause) {
              return new UndecodableRequest(cause);
            }
          },
          responseSerialize: (value: unknown) => Buffer.from(method.responseType.encode(method.responseType.fromPartial(value)).finish()),
          responseDeserialize: (bytes: Buffer) => method.responseType.decode(bytes),
        };
        const handler = (handlers as Record<string, unknown>)[name] as ((...args: any[]) => any) | undefined;
        implementation[name] = method.responseStream
          ? serveStream(path, method, handler, tracker)
          : serveUnary(path, method, handler, tracker);
      }
      return { grpcDefinition: grpcDefinition as grpc.ServiceDefinition, implementation };
    },
  };
}

function openCall(path: string, names: RpcSpanNames, call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>, tracker: CallTracker) {
  const controller = new AbortController();
  let closed = false;
  const requestId = String(call.metadata.get('x-request-id')[0] ?? '') || randomUUID();
  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : Number(rawDeadline);
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
  // grpc-js reports every call's stream closing as 'cancelled', finished ones too: a call that
  // has answered is not aborted (no error, event and listeners to run per call), and the reason
  // carries no stack, since capturing one (from an event callback, saying nothing) per call was
  // a measurable share of a call's CPU. A deadline needs no timer of ours: grpc-js ends the call
  // with DEADLINE_EXCEEDED when it passes (as does the client), which arrives here too.
  call.on('cancelled', () => {
    if (closed) return;
    const passed = deadline !== undefined && Date.now() >= deadlineMs;
    controller.abort(withoutStack(() => (passed ? errors.deadlineExceeded('deadline exceeded') : errors.cancelled('the client cancelled the call'))));
  });
  // The call's child logger (and its bindings' redaction) is made when something first logs,
  // with the principal once authentication has named one.
  let log: Logger | undefined;
  const ctx: CallContext = {
    method: path,
    requestId,
    signal: controller.signal,
    deadline,
    metadata: call.metadata,
    peer: call.getPeer(),
    get log(): Logger {
      if (log) return log;
      const { principal } = ctx;
      log = tracker.logger.child(
        principal === LOCAL_DEVELOPER ? { method: path, requestId } : { method: path, requestId, principal: principal.subject, tenant: principal.tenant },
      );
      return log;
    },
    set log(value: Logger) {
      log = value;
    },
    principal: LOCAL_DEVELOPER,
  };
  const span = startServerSpan(names, extractTraceContext(call.metadata));
  tracker.inflight += 1;
  return {
    ctx,
    controller,
    span,
    close(code: number, message?: string) {
      if (closed) return;
      closed = true;
      endSpan(span, code, message);
      tracker.inflight -= 1;
      tracker.onIdle();
    },
  };
}

function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Logs a failure as befits it (bugs loudly, caller mistakes quietly) and returns its status. */
function failure(error: unknown, log: Logger) {
  const e = asElixirError(error);
  if (e.code === GrpcCode.INTERNAL || e.code === GrpcCode.UNKNOWN) {
    log.error({ err: e.cause ?? e, reason: e.reason }, 'call failed');
  } else {
    log.debug({ code: e.codeName, reason: e.reason, message: e.message }, 'call failed');
  }
  return { e, status: toStatusObject(e) };
}

async function authenticate(call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>, ctx: CallContext, tracker: CallTracker): Promise<void> {
  if (!tracker.authenticator) return;
  const certificate = call.getAuthContext?.().sslPeerCertificate;
  ctx.principal = await tracker.authenticator.authenticate({
    path: ctx.method,
    metadata: call.metadata,
    peer: ctx.peer,
    certificateCommonName: certificate?.subject?.CN ? String(certificate.subject.CN) : undefined,
  });
}

/** What every call passes before its handler runs: not draining, authenticated, implemented, decodable. */
async function admit(
  call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>,
  ctx: CallContext,
  method: MethodDefinition,
  handler: ((...args: any[]) => any) | undefined,
  tracker: CallTracker,
): Promise<{ request: unknown; handle: (...args: any[]) => any }> {
  if (tracker.draining) throw errors.unavailable('DRAINING', 'the server is shutting down; retry on another replica');
  await authenticate(call, ctx, tracker);
  if (!handler) throw errors.unimplemented(ctx.method);
  return { request: requestOrThrow(call.request, method), handle: handler };
}

function requestOrThrow(request: unknown, method: MethodDefinition): unknown {
  if (request instanceof UndecodableRequest) {
    throw errors.invalidArgument('request', `the bytes are not a valid ${method.name} request`, 'MALFORMED_REQUEST');
  }
  return request;
}

function serveUnary(path: string, method: MethodDefinition, handler: ((...args: any[]) => any) | undefined, tracker: CallTracker): grpc.handleUnaryCall<any, any> {
  const names = rpcSpanNames(path);
  return (call, callback) => {
    const open = openCall(path, names, call, tracker);
    const run = async () => {
      try {
        const { request, handle } = await admit(call, open.ctx, method, handler, tracker);
        const response = await handle(request, open.ctx);
        open.close(0);
        callback(null, response ?? {});
      } catch (error) {
        const { e, status } = failure(error, open.ctx.log);
        open.close(e.code, e.message);
        callback(status);
      }
    };
    context.with(contextWithSpan(open.span), () => runInCall(open.ctx, run));
  };
}

function serveStream(path: string, method: MethodDefinition, handler: ((...args: any[]) => any) | undefined, tracker: CallTracker): grpc.handleServerStreamingCall<any, any> {
  const names = rpcSpanNames(path);
  return (call) => {
    const open = openCall(path, names, call, tracker);
    let ended = false;
    const finish = (error?: unknown) => {
      if (ended) return;
      ended = true;
      tracker.streams.delete(entry);
      if (error === undefined) {
        open.close(0);
        call.end();
        return;
      }
      const { e, status } = failure(error, open.ctx.log);
      open.close(e.code, e.message);
      if (!open.controller.signal.aborted) open.controller.abort(e);
      call.emit('error', status);
    };
    const entry = { end: (error: ElixirError) => finish(error) };
    tracker.streams.add(entry);

    const stream: ServerStream<unknown> = {
      signal: open.ctx.signal,
      get closed() {
        return ended || call.cancelled || open.ctx.signal.aborted;
      },
      write(message) {
        if (stream.closed) return Promise.reject(open.ctx.signal.reason ?? errors.cancelled('the stream has ended'));
        if (call.write(message)) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            open.ctx.signal.removeEventListener('abort', onAbort);
            resolve();
          };
          const onAbort = () => {
            call.removeListener('drain', onDrain);
            reject(open.ctx.signal.reason ?? errors.cancelled('the stream has ended'));
          };
          call.once('drain', onDrain);
          open.ctx.signal.addEventListener('abort', onAbort, { once: true });
        });
      },
    };

    const run = async () => {
      try {
        const { request, handle } = await admit(call, open.ctx, method, handler, tracker);
        await handle(request, stream, open.ctx);
        finish();
      } catch (error) {
        // A handler that stopped because the client went away has nobody to tell.
        finish(call.cancelled ? errors.cancelled('the client cancelled the call') : error);
      }
    };
    context.with(contextWithSpan(open.span), () => runInCall(open.ctx, run));
  };
}
