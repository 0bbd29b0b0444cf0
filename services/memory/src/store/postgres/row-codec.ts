// Row <-> store value mapping for PostgreSQL. bigint columns arrive as
// strings from pg; every version, sequence and count fits a JS number.
import { Role } from '@elixirchain/proto/memory';
import type { JsonObject, Memory, Message, MessageInput, Namespace, StateEntry, Thread } from '../store.js';
import { float32FromBytes } from './cosine-top-k.js';

export interface ThreadRow {
  id: string;
  version: string | number;
  metadata: JsonObject | null;
  create_time: Date;
  update_time: Date;
}

export interface MessageRow {
  thread_id: string;
  sequence: string | number;
  id: string;
  body: MessageBody;
  create_time: Date;
}

export interface MessageBody {
  role?: number;
  content?: string;
  toolCalls?: Message['toolCalls'];
  toolCallId?: string;
  name?: string;
  toolResult?: unknown;
  isError?: boolean;
  turnId?: string;
  metadata?: Record<string, unknown>;
}

export interface NamespaceRow {
  ns_id: string | number;
  name: string;
  embedder: string;
  dimensions: number;
  memory_count: string | number;
  vector_version: string | number;
  create_time: Date;
}

export interface MemoryRow {
  id: string;
  text: string;
  metadata: JsonObject | null;
  vector?: Buffer;
  create_time: Date;
  update_time: Date;
}

export interface StateRow {
  key: string;
  bytes_value: Buffer | null;
  struct_value: JsonObject | null;
  version: string | number;
  create_time: Date;
  update_time: Date;
  expire_time: Date | null;
}

export function encodeMessageBody(m: MessageInput): string {
  const body: MessageBody = { role: m.role, content: m.content };
  if (m.toolCalls && m.toolCalls.length > 0) body.toolCalls = m.toolCalls;
  if (m.toolCallId) body.toolCallId = m.toolCallId;
  if (m.name) body.name = m.name;
  if (m.toolResult !== undefined) body.toolResult = m.toolResult;
  if (m.isError) body.isError = true;
  if (m.turnId) body.turnId = m.turnId;
  if (m.metadata !== undefined) body.metadata = m.metadata;
  return JSON.stringify(body);
}

export function messageFromRow(row: MessageRow): Message {
  const body = row.body ?? {};
  return {
    id: row.id,
    threadId: row.thread_id,
    sequence: Number(row.sequence),
    role: (body.role ?? Role.ROLE_UNSPECIFIED) as Role,
    content: body.content ?? '',
    toolCalls: body.toolCalls ?? [],
    toolCallId: body.toolCallId ?? '',
    name: body.name ?? '',
    toolResult: body.toolResult,
    isError: body.isError ?? false,
    turnId: body.turnId ?? '',
    metadata: body.metadata,
    createTime: row.create_time,
  };
}

export function threadFromRow(row: ThreadRow): Thread {
  return {
    id: row.id,
    version: Number(row.version),
    metadata: row.metadata ?? undefined,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

export function namespaceFromRow(row: NamespaceRow): Namespace {
  return {
    name: row.name,
    embedder: row.embedder,
    dimensions: row.dimensions,
    memoryCount: Number(row.memory_count),
    createTime: row.create_time,
  };
}

export function memoryFromRow(namespace: string, row: MemoryRow, includeVector: boolean): Memory {
  return {
    id: row.id,
    namespace,
    text: row.text,
    metadata: row.metadata ?? undefined,
    vector: includeVector && row.vector ? Array.from(float32FromBytes(row.vector)) : [],
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

export function stateFromRow(row: StateRow, withValue = true): StateEntry {
  let value: StateEntry['value'];
  if (withValue) {
    value =
      row.bytes_value !== null
        ? { $case: 'bytesValue', bytesValue: Buffer.from(row.bytes_value) }
        : { $case: 'structValue', structValue: row.struct_value ?? {} };
  }
  return {
    key: row.key,
    value,
    version: Number(row.version),
    createTime: row.create_time,
    updateTime: row.update_time,
    expireTime: row.expire_time ?? undefined,
  };
}
