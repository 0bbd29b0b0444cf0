// MemoryService handlers: validate what arrived (decoding can succeed on
// garbage), embed text, encode page tokens, and delegate to a Store. Store
// errors are ElixirErrors already; embedder failures are mapped here.
import { randomUUID } from 'node:crypto';
import { errors, toRpcStatus, defineService, effectiveTenant, ElixirError, type CallContext, type ServiceBinding } from '@elixirchain/runtime';
import {
  MemoryServiceDefinition,
  Role,
  type AppendMessagesRequest,
  type DeleteStateRequest,
  type Memory,
  type MetadataFilter,
  type PutStateRequest,
  type WriteOperation as ProtoWriteOperation,
} from '@elixirchain/proto/memory';
import type { Embedder } from '../embedders/embedder.js';
import { EmbedderRegistry, EmbedderUnavailableError } from '../embedders/embedder-registry.js';
import { EmbedderError } from '../embedders/openai-embedder.js';
import { validateMetadataFilter } from '../store/metadata-filter.js';
import type {
  AppendMessagesInput,
  DeleteStateInput,
  MemoryInput,
  PutStateInput,
  Store,
  WriteOperation,
} from '../store/store.js';
import type { AuditLog } from '../audit/audit-log.js';
import { storageTenant, TenantScopedStore } from '../tenancy/tenant-scoped-store.js';
import { LIMITS } from './limits.js';
import { decodePageToken, encodePageToken, queryFingerprint } from './page-token.js';
import { Violations } from './request-validation.js';

/** Namespaces filled only with caller-supplied vectors record this embedder id. */
export const CALLER_VECTORS_EMBEDDER = 'caller-supplied';

const VALID_ROLES = new Set<number>([Role.ROLE_SYSTEM, Role.ROLE_USER, Role.ROLE_ASSISTANT, Role.ROLE_TOOL]);

function checkAppend(v: Violations, req: AppendMessagesRequest, prefix: string): AppendMessagesInput {
  v.id(`${prefix}thread_id`, req.threadId);
  v.requestId(`${prefix}request_id`, req.requestId);
  v.version(`${prefix}expected_version`, req.expectedVersion);
  v.json(`${prefix}thread_metadata`, req.threadMetadata, LIMITS.metadataBytes);
  if (req.messages.length === 0) v.add(`${prefix}messages`, 'must contain at least one message');
  if (req.messages.length > LIMITS.messagesPerAppend) {
    v.add(`${prefix}messages`, `at most ${LIMITS.messagesPerAppend} messages per append, got ${req.messages.length}`);
  }
  let total = 0;
  const ids = new Set<string>();
  req.messages.slice(0, LIMITS.messagesPerAppend).forEach((m, i) => {
    const f = `${prefix}messages[${i}]`;
    if (!VALID_ROLES.has(m.role)) v.add(`${f}.role`, 'must be ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL');
    v.id(`${f}.id`, m.id, LIMITS.idBytes, true);
    if (m.id) {
      if (ids.has(m.id)) v.add(`${f}.id`, 'is repeated within the request');
      ids.add(m.id);
    }
    v.text(`${f}.content`, m.content, LIMITS.messageContentBytes);
    v.id(`${f}.tool_call_id`, m.toolCallId, LIMITS.idBytes, true);
    v.id(`${f}.turn_id`, m.turnId, LIMITS.idBytes, true);
    v.text(`${f}.name`, m.name, LIMITS.idBytes);
    v.json(`${f}.metadata`, m.metadata, LIMITS.metadataBytes);
    m.toolCalls.forEach((c, j) => {
      v.id(`${f}.tool_calls[${j}].id`, c.id);
      v.id(`${f}.tool_calls[${j}].name`, c.name);
    });
    const bytes =
      Buffer.byteLength(m.content) +
      v.json(`${f}.tool_calls`, m.toolCalls, LIMITS.messageBytes) +
      v.json(`${f}.tool_result`, m.toolResult, LIMITS.messageBytes);
    if (bytes > LIMITS.messageBytes) v.add(f, `must be at most ${LIMITS.messageBytes} bytes in all`);
    total += bytes;
  });
  if (total > LIMITS.appendBytes) v.add(`${prefix}messages`, `must be at most ${LIMITS.appendBytes} bytes in all`);
  return {
    threadId: req.threadId,
    messages: req.messages.map((m) => ({
      id: m.id,
      role: m.role,
      content: m.content,
      toolCalls: m.toolCalls,
      toolCallId: m.toolCallId,
      name: m.name,
      toolResult: m.toolResult,
      isError: m.isError,
      turnId: m.turnId,
      metadata: m.metadata,
    })),
    expectedVersion: req.expectedVersion,
    requestId: req.requestId || undefined,
    threadMetadata: req.threadMetadata,
  };
}

function checkPutState(v: Violations, req: PutStateRequest, prefix: string): PutStateInput {
  v.id(`${prefix}key`, req.key, LIMITS.stateKeyBytes);
  v.requestId(`${prefix}request_id`, req.requestId);
  v.version(`${prefix}expected_version`, req.expectedVersion);
  if (!req.value) v.add(`${prefix}value`, 'one of bytes_value or struct_value is required');
  else if (req.value.$case === 'bytesValue' && req.value.bytesValue.length > LIMITS.stateValueBytes) {
    v.add(`${prefix}bytes_value`, `must be at most ${LIMITS.stateValueBytes} bytes`);
  } else if (req.value.$case === 'structValue') {
    v.json(`${prefix}struct_value`, req.value.structValue, LIMITS.stateValueBytes);
  }
  let ttlMs: number | undefined;
  if (req.ttl) {
    ttlMs = req.ttl.seconds * 1000 + Math.floor(req.ttl.nanos / 1e6);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || req.ttl.nanos < 0) v.add(`${prefix}ttl`, 'must be a positive duration');
    else if (ttlMs > 10 * 365 * 24 * 3600 * 1000) v.add(`${prefix}ttl`, 'must be at most 10 years');
  }
  const value: PutStateInput['value'] =
    req.value?.$case === 'bytesValue'
      ? { $case: 'bytesValue', bytesValue: req.value.bytesValue }
      : { $case: 'structValue', structValue: (req.value?.$case === 'structValue' ? req.value.structValue : undefined) ?? {} };
  return { key: req.key, value, expectedVersion: req.expectedVersion, requestId: req.requestId || undefined, ttlMs };
}

function checkDeleteState(v: Violations, req: DeleteStateRequest, prefix: string): DeleteStateInput {
  v.id(`${prefix}key`, req.key, LIMITS.stateKeyBytes);
  v.requestId(`${prefix}request_id`, req.requestId);
  v.version(`${prefix}expected_version`, req.expectedVersion);
  return { key: req.key, expectedVersion: req.expectedVersion, requestId: req.requestId || undefined };
}

function checkFilter(filter: MetadataFilter | undefined): void {
  validateMetadataFilter(filter, 'filter');
}

function checkTopK(v: Violations, topK: number): number {
  if (!Number.isInteger(topK) || topK < 0) {
    v.add('top_k', 'must not be negative');
    return LIMITS.defaultTopK;
  }
  return topK === 0 ? LIMITS.defaultTopK : Math.min(topK, LIMITS.maxTopK);
}

function withoutVector(memory: Memory): Memory {
  return memory.vector.length === 0 ? memory : { ...memory, vector: [] };
}

export interface MemoryServiceOptions {
  store: Store;
  embedders: EmbedderRegistry;
  /** Where deletions are recorded; none: not audited. */
  audit?: AuditLog;
}

export function memoryServiceBinding({ store: sharedStore, embedders, audit }: MemoryServiceOptions): ServiceBinding {
  // Every call works inside its caller's tenant (a service's forwarded caller), invisibly to the caller.
  const scoped = new Map<string, TenantScopedStore>();
  const storeFor = (call: CallContext): Store => {
    const tenant = storageTenant(effectiveTenant(call.principal));
    let store = scoped.get(tenant);
    if (!store) {
      if (scoped.size > 10_000) scoped.clear();
      store = new TenantScopedStore(sharedStore, tenant);
      scoped.set(tenant, store);
    }
    return store;
  };
  const audited = async (call: CallContext, action: string, resource: string, deleted: boolean) => {
    if (!deleted || !audit) return;
    await audit.record(call, { action, resource, tenant: storageTenant(effectiveTenant(call.principal)) });
  };

  const embedderFor = (id: string, field: string): Embedder => {
    if (id === CALLER_VECTORS_EMBEDDER) {
      throw errors.invalidArgument(field, 'this namespace holds caller-supplied vectors: send vectors, not text');
    }
    try {
      return embedders.get(id);
    } catch (error) {
      if (error instanceof EmbedderUnavailableError) {
        throw errors.failedPrecondition('EMBEDDER_UNAVAILABLE', error.message, { embedder: id });
      }
      throw error;
    }
  };

  const embed = async (embedder: Embedder, texts: string[], signal: AbortSignal): Promise<Float32Array[]> => {
    try {
      return await embedder.embed(texts, signal);
    } catch (error) {
      if (error instanceof EmbedderError) {
        const transient = error.status === undefined || error.status === 429 || error.status >= 500;
        throw transient
          ? errors.unavailable('EMBEDDER_FAILED', error.message, 1000)
          : errors.failedPrecondition('EMBEDDER_REJECTED', error.message, { embedder: embedder.id });
      }
      throw error;
    }
  };

  const toStoreOperation = (v: Violations, op: ProtoWriteOperation, i: number): WriteOperation | undefined => {
    const prefix = `operations[${i}].`;
    const o = op.operation;
    if (!o) {
      v.add(`operations[${i}]`, 'one of append_messages, put_state, delete_state is required');
      return undefined;
    }
    switch (o.$case) {
      case 'appendMessages':
        return { $case: 'appendMessages', appendMessages: checkAppend(v, o.appendMessages, `${prefix}append_messages.`) };
      case 'putState':
        return { $case: 'putState', putState: checkPutState(v, o.putState, `${prefix}put_state.`) };
      case 'deleteState':
        return { $case: 'deleteState', deleteState: checkDeleteState(v, o.deleteState, `${prefix}delete_state.`) };
    }
  };

  return defineService(MemoryServiceDefinition, {
    // ---------------------------------------------------------- threads
    async appendMessages(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      const input = checkAppend(v, req, '');
      v.throwIfAny();
      return store.appendMessages(input);
    },

    async listMessages(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('thread_id', req.threadId);
      const limit = v.pageSize('page_size', req.pageSize);
      if (!Number.isSafeInteger(req.afterSequence) || req.afterSequence < 0) v.add('after_sequence', 'must not be negative');
      if (req.newestFirst && req.afterSequence > 0) v.add('after_sequence', 'applies to oldest-first listings only');
      v.throwIfAny();
      const fp = queryFingerprint('messages', req.threadId, req.newestFirst, req.afterSequence);
      const cursor = decodePageToken<number>(req.pageToken, fp, 'number');
      const res = await store.listMessages({
        threadId: req.threadId,
        limit,
        newestFirst: req.newestFirst,
        afterSequence: req.newestFirst ? undefined : (cursor ?? req.afterSequence),
        beforeSequence: req.newestFirst ? cursor : undefined,
      });
      return { messages: res.messages, thread: res.thread, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async getThread(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('thread_id', req.threadId);
      v.throwIfAny();
      return { thread: await store.getThread(req.threadId) };
    },

    async listThreads(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      const limit = v.pageSize('page_size', req.pageSize);
      v.id('prefix', req.prefix, LIMITS.idBytes, true);
      v.throwIfAny();
      const fp = queryFingerprint('threads', req.prefix);
      const afterId = decodePageToken<string>(req.pageToken, fp, 'string');
      const res = await store.listThreads({ limit, prefix: req.prefix || undefined, afterId });
      return { threads: res.threads, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async deleteThread(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('thread_id', req.threadId);
      v.requestId('request_id', req.requestId);
      v.version('expected_version', req.expectedVersion);
      v.throwIfAny();
      const res = await store.deleteThread({ threadId: req.threadId, expectedVersion: req.expectedVersion, requestId: req.requestId || undefined });
      await audited(call, 'thread.delete', `thread/${req.threadId}`, res.deleted);
      return res;
    },

    // ---------------------------------------------------------- memories
    async upsertMemories(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      v.requestId('request_id', req.requestId);
      v.id('embedder', req.embedder, LIMITS.idBytes, true);
      if (req.memories.length === 0) v.add('memories', 'must contain at least one memory');
      if (req.memories.length > LIMITS.memoriesPerUpsert) {
        v.add('memories', `at most ${LIMITS.memoriesPerUpsert} memories per upsert, got ${req.memories.length}`);
      }
      if (!Number.isInteger(req.dimensions) || req.dimensions < 0 || req.dimensions > LIMITS.maxDimensions) {
        v.add('dimensions', `must be between 0 and ${LIMITS.maxDimensions}`);
      }
      const seen = new Set<string>();
      req.memories.slice(0, LIMITS.memoriesPerUpsert).forEach((m, i) => {
        const f = `memories[${i}]`;
        v.id(`${f}.id`, m.id, LIMITS.idBytes, true);
        if (m.id) {
          if (seen.has(m.id)) v.add(`${f}.id`, 'is repeated within the request');
          seen.add(m.id);
        }
        v.text(`${f}.text`, m.text, LIMITS.memoryTextBytes);
        v.json(`${f}.metadata`, m.metadata, LIMITS.metadataBytes);
        if (m.vector.length > LIMITS.maxDimensions) v.add(`${f}.vector`, `must have at most ${LIMITS.maxDimensions} dimensions`);
        if (m.vector.length === 0 && m.text.trim() === '') v.add(`${f}.text`, 'is required when no vector is given');
      });
      v.throwIfAny();

      const existing = await store.getNamespace(req.namespace).catch((error: unknown) => {
        if (ElixirError.is(error) && error.reason === 'NAMESPACE_NOT_FOUND') return undefined;
        throw error;
      });
      const needText = req.memories.some((m) => m.vector.length === 0);
      const embedderId =
        existing?.embedder ?? (req.embedder || (needText ? embedders.defaultId : CALLER_VECTORS_EMBEDDER));
      const vectors: Array<ArrayLike<number>> = req.memories.map((m) => m.vector);
      if (needText) {
        const embedder = embedderFor(embedderId, 'memories.vector');
        const missing = req.memories.flatMap((m, i) => (m.vector.length === 0 ? [i] : []));
        const embedded = await embed(embedder, missing.map((i) => req.memories[i].text), call.signal);
        missing.forEach((i, j) => (vectors[i] = embedded[j]));
      }
      const dimensions = existing?.dimensions ?? (req.dimensions || vectors[0].length);
      const memories: MemoryInput[] = req.memories.map((m, i) => ({
        id: m.id || randomUUID(),
        text: m.text,
        metadata: m.metadata,
        vector: vectors[i],
      }));
      const res = await store.upsertMemories({
        namespace: req.namespace,
        memories,
        embedder: embedderId,
        dimensions,
        requestId: req.requestId || undefined,
      });
      return res;
    },

    async searchMemories(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      const topK = checkTopK(v, req.topK);
      const hasText = req.queryText.trim() !== '';
      const hasVector = req.queryVector.length > 0;
      if (hasText === hasVector) v.add('query_text', 'exactly one of query_text and query_vector is required');
      v.text('query_text', req.queryText, LIMITS.memoryTextBytes);
      if (req.queryVector.length > LIMITS.maxDimensions) v.add('query_vector', `must have at most ${LIMITS.maxDimensions} dimensions`);
      if (!Number.isFinite(req.minScore) || req.minScore < -1 || req.minScore > 1) v.add('min_score', 'must be between -1 and 1');
      v.throwIfAny();
      checkFilter(req.filter);
      const ns = await store.getNamespace(req.namespace);
      let vector: ArrayLike<number> = req.queryVector;
      if (hasText) [vector] = await embed(embedderFor(ns.embedder, 'query_text'), [req.queryText], call.signal);
      const res = await store.searchMemories({
        namespace: req.namespace,
        vector,
        topK,
        filter: req.filter,
        // proto3 cannot tell 0 from unset: 0 means no threshold.
        minScore: req.minScore === 0 ? undefined : req.minScore,
        includeVectors: req.includeVectors,
      });
      return { results: res.results, namespace: res.namespace };
    },

    async getMemory(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      v.id('id', req.id);
      v.throwIfAny();
      const memory = await store.getMemory(req.namespace, req.id, req.includeVector);
      return { memory: req.includeVector ? memory : withoutVector(memory) };
    },

    async listMemories(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      const limit = v.pageSize('page_size', req.pageSize);
      v.throwIfAny();
      checkFilter(req.filter);
      const fp = queryFingerprint('memories', req.namespace, req.filter ?? null);
      const afterId = decodePageToken<string>(req.pageToken, fp, 'string');
      const res = await store.listMemories({ namespace: req.namespace, limit, filter: req.filter, afterId });
      return { memories: res.memories, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async deleteMemory(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      v.id('id', req.id);
      v.requestId('request_id', req.requestId);
      v.throwIfAny();
      const res = await store.deleteMemory(req.namespace, req.id);
      await audited(call, 'memory.delete', `namespace/${req.namespace}/memory/${req.id}`, res.deleted);
      return res;
    },

    async listNamespaces(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      const limit = v.pageSize('page_size', req.pageSize);
      v.throwIfAny();
      const fp = queryFingerprint('namespaces');
      const afterName = decodePageToken<string>(req.pageToken, fp, 'string');
      const res = await store.listNamespaces({ limit, afterName });
      return { namespaces: res.namespaces, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async deleteNamespace(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('namespace', req.namespace, LIMITS.namespaceBytes);
      v.requestId('request_id', req.requestId);
      v.throwIfAny();
      const res = await store.deleteNamespace(req.namespace);
      await audited(call, 'namespace.delete', `namespace/${req.namespace}`, res.deleted);
      return res;
    },

    // ---------------------------------------------------------- state
    async putState(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      const input = checkPutState(v, req, '');
      v.throwIfAny();
      return { entry: await store.putState(input) };
    },

    async getState(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('key', req.key, LIMITS.stateKeyBytes);
      v.throwIfAny();
      return { entry: await store.getState(req.key) };
    },

    async listState(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.id('prefix', req.prefix, LIMITS.stateKeyBytes, true);
      v.id('start_after', req.startAfter, LIMITS.stateKeyBytes, true);
      const limit = v.pageSize('page_size', req.pageSize);
      v.throwIfAny();
      // A token belongs to its start_after too; without one the fingerprint is what it always was.
      const fp = req.startAfter ? queryFingerprint('state', req.prefix, req.keysOnly, req.startAfter) : queryFingerprint('state', req.prefix, req.keysOnly);
      // A later page continues from its token, which is past start_after already.
      const afterKey = decodePageToken<string>(req.pageToken, fp, 'string') ?? (req.startAfter || undefined);
      const res = await store.listState({ prefix: req.prefix, limit, afterKey, keysOnly: req.keysOnly });
      return { entries: res.entries, nextPageToken: encodePageToken(fp, res.nextCursor) };
    },

    async deleteState(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      const input = checkDeleteState(v, req, '');
      v.throwIfAny();
      return store.deleteState(input);
    },

    // ---------------------------------------------------------- batches
    async batchWrite(req, call) {
      const store = storeFor(call);
      const v = new Violations();
      v.requestId('request_id', req.requestId);
      if (req.operations.length === 0) v.add('operations', 'must contain at least one operation');
      if (req.operations.length > LIMITS.batchOperations) {
        v.add('operations', `at most ${LIMITS.batchOperations} operations per batch, got ${req.operations.length}`);
      }
      const operations = req.operations
        .slice(0, LIMITS.batchOperations)
        .map((op, i) => toStoreOperation(v, op, i))
        .filter((op): op is WriteOperation => op !== undefined);
      v.throwIfAny();
      const outcomes = await store.batchWrite({ operations: withBatchRequestIds(operations, req.requestId), atomic: req.atomic });
      return {
        results: outcomes.map((o) => {
          switch (o.$case) {
            case 'appendMessages':
              return { result: { $case: 'appendMessages' as const, appendMessages: o.appendMessages } };
            case 'putState':
              return { result: { $case: 'putState' as const, putState: { entry: req.omitStateValues ? { ...o.putState, value: undefined } : o.putState } } };
            case 'deleteState':
              return { result: { $case: 'deleteState' as const, deleteState: o.deleteState } };
            case 'error':
              return { result: { $case: 'error' as const, error: toRpcStatus(o.error) } };
          }
        }),
      };
    },
  });
}

/**
 * A batch's request_id makes it idempotent: each operation that a second
 * application would change (an append, a compare-and-set) and has no request
 * id of its own gets one derived from it, so a retried batch whose first
 * attempt committed (its reply lost) replays those operations' first outcome
 * instead of appending twice or failing its compare-and-set. Every store
 * replays single writes by request id, inside the batch's transaction.
 * Unconditional puts and deletes just apply again (same value; a request row
 * each would only cost writes on the hot path).
 */
export function withBatchRequestIds(operations: WriteOperation[], batchRequestId: string): WriteOperation[] {
  if (!batchRequestId) return operations;
  return operations.map((op, index): WriteOperation => {
    const requestId = `${batchRequestId}#${index}`;
    switch (op.$case) {
      case 'appendMessages':
        return op.appendMessages.requestId ? op : { $case: 'appendMessages', appendMessages: { ...op.appendMessages, requestId } };
      case 'putState':
        return op.putState.requestId || op.putState.expectedVersion === undefined ? op : { $case: 'putState', putState: { ...op.putState, requestId } };
      case 'deleteState':
        return op.deleteState.requestId || op.deleteState.expectedVersion === undefined ? op : { $case: 'deleteState', deleteState: { ...op.deleteState, requestId } };
    }
  });
}
