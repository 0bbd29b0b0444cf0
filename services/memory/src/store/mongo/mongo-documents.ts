// The documents MongoStore keeps, and their mapping to store values.
// Message bodies, thread metadata and state structs are stored as JSON text:
// they are never queried, and arbitrary JSON (keys starting with "$" or
// holding ".") is not always a valid MongoDB document. Memory metadata is a
// real sub-document because filters run on it.
import { Binary } from 'mongodb';
import { Role } from '@elixirchain/proto/memory';
import type { JsonObject, Memory, Message, MessageInput, Namespace, StateEntry, Thread } from '../store.js';

/** A request_id recorded in the document it wrote, atomically with the write. */
export interface RecentRequest {
  id: string;
  /** appends: the sequences written; state: the version written. */
  from?: number;
  to?: number;
  version?: number;
}

export interface ThreadDoc {
  _id: string;
  version: number;
  /** Random per creation: messages of a deleted thread never show in a new one with the same id. */
  incarnation: string;
  metadataJson?: string | null;
  createTime: Date;
  updateTime: Date;
  recentRequests?: RecentRequest[];
}

export interface MessageDoc {
  threadId: string;
  incarnation: string;
  sequence: number;
  id: string;
  body: string;
  createTime: Date;
  /** When this slot was written, and by which attempt: clears abandoned slots on the standalone path. */
  writtenAt: Date;
  writer: string;
}

export interface RequestDoc {
  _id: string;
  kind: string;
  target: string;
  outcome: string;
  createTime: Date;
}

export interface NamespaceDoc {
  _id: string;
  /** Random per creation, so memories of a deleted namespace never reappear under its name. */
  nsId: string;
  embedder: string;
  dimensions: number;
  createTime: Date;
}

export interface MemoryDoc {
  nsId: string;
  id: string;
  text: string;
  metadata?: JsonObject;
  createTime: Date;
  updateTime: Date;
  /** vector<dims>: number[] (see atlas-vector-search.ts). */
  [vectorField: `vector${number}`]: number[];
}

export interface StateDoc {
  _id: string;
  kind: 'b' | 's';
  bytes?: Binary | Buffer | Uint8Array;
  struct?: string;
  version: number;
  createTime: Date;
  updateTime: Date;
  expireTime?: Date | null;
  recentRequests?: RecentRequest[];
}

export const RECENT_REQUESTS_KEPT = 32;

interface MessageBody {
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

export function messageFromDoc(doc: MessageDoc): Message {
  const body = JSON.parse(doc.body) as MessageBody;
  return {
    id: doc.id,
    threadId: doc.threadId,
    sequence: doc.sequence,
    role: (body.role ?? Role.ROLE_UNSPECIFIED) as Role,
    content: body.content ?? '',
    toolCalls: body.toolCalls ?? [],
    toolCallId: body.toolCallId ?? '',
    name: body.name ?? '',
    toolResult: body.toolResult,
    isError: body.isError ?? false,
    turnId: body.turnId ?? '',
    metadata: body.metadata,
    createTime: doc.createTime,
  };
}

export function threadFromDoc(doc: ThreadDoc): Thread {
  return {
    id: doc._id,
    version: doc.version,
    metadata: doc.metadataJson ? (JSON.parse(doc.metadataJson) as JsonObject) : undefined,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

export function namespaceFromDoc(doc: NamespaceDoc, memoryCount: number): Namespace {
  return { name: doc._id, embedder: doc.embedder, dimensions: doc.dimensions, memoryCount, createTime: doc.createTime };
}

export function memoryFromDoc(namespace: string, doc: MemoryDoc, vectorField: string | undefined): Memory {
  const vector = vectorField ? (doc as unknown as Record<string, unknown>)[vectorField] : undefined;
  return {
    id: doc.id,
    namespace,
    text: doc.text,
    metadata: doc.metadata ?? undefined,
    vector: Array.isArray(vector) ? (vector as number[]) : [],
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

export function bytesOf(value: StateDoc['bytes']): Buffer {
  if (value instanceof Binary) return Buffer.from(value.read(0, value.length()));
  return Buffer.from(value ?? new Uint8Array());
}

export function stateFromDoc(doc: StateDoc, withValue = true): StateEntry {
  let value: StateEntry['value'];
  if (withValue) {
    value =
      doc.kind === 'b'
        ? { $case: 'bytesValue', bytesValue: bytesOf(doc.bytes) }
        : { $case: 'structValue', structValue: JSON.parse(doc.struct ?? '{}') as JsonObject };
  }
  return {
    key: doc._id,
    value,
    version: doc.version,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    expireTime: doc.expireTime ?? undefined,
  };
}

export function isLive(doc: StateDoc | null | undefined, now: Date): doc is StateDoc {
  return !!doc && !(doc.expireTime && doc.expireTime.getTime() <= now.getTime());
}
