// Row <-> Message mapping for SQLite: the non-key fields travel as one JSON body.
import { Role } from '@elixirchain/proto/memory';
import type { Message, MessageInput } from '../store.js';

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

export interface MessageRow {
  thread_id: string;
  sequence: number;
  id: string;
  body: string;
  create_time: number;
}

export function decodeMessage(row: MessageRow): Message {
  const body = JSON.parse(row.body) as MessageBody;
  return {
    id: row.id,
    threadId: row.thread_id,
    sequence: row.sequence,
    role: (body.role ?? Role.ROLE_UNSPECIFIED) as Role,
    content: body.content ?? '',
    toolCalls: body.toolCalls ?? [],
    toolCallId: body.toolCallId ?? '',
    name: body.name ?? '',
    toolResult: body.toolResult,
    isError: body.isError ?? false,
    turnId: body.turnId ?? '',
    metadata: body.metadata,
    createTime: new Date(row.create_time),
  };
}

/** The message decodeMessage returns for the row an append of `m` writes (same defaults, no JSON round trip). */
export function storedMessage(m: MessageInput, threadId: string, sequence: number, id: string, createTime: number): Message {
  return {
    id,
    threadId,
    sequence,
    role: (m.role ?? Role.ROLE_UNSPECIFIED) as Role,
    content: m.content ?? '',
    toolCalls: m.toolCalls && m.toolCalls.length > 0 ? m.toolCalls : [],
    toolCallId: m.toolCallId || '',
    name: m.name || '',
    toolResult: m.toolResult,
    isError: m.isError === true,
    turnId: m.turnId || '',
    metadata: m.metadata,
    createTime: new Date(createTime),
  };
}
