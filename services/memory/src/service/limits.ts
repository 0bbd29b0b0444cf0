// Size limits on what MemoryService accepts. They keep one request from
// occupying the store (and the event loop) for long and are reported as
// INVALID_ARGUMENT naming the field and the limit.
export const LIMITS = {
  idBytes: 512,
  stateKeyBytes: 1024,
  requestIdBytes: 256,
  namespaceBytes: 256,
  messagesPerAppend: 1000,
  messageContentBytes: 1024 * 1024,
  /** Whole message as JSON: content, tool calls, tool result, metadata. */
  messageBytes: 2 * 1024 * 1024,
  appendBytes: 8 * 1024 * 1024,
  metadataBytes: 64 * 1024,
  memoriesPerUpsert: 5000,
  memoryTextBytes: 64 * 1024,
  maxDimensions: 8192,
  stateValueBytes: 4 * 1024 * 1024,
  batchOperations: 500,
  defaultPageSize: 100,
  maxPageSize: 1000,
  defaultTopK: 10,
  maxTopK: 1000,
} as const;
