/**
 * The creation time as 12 hex digits (ms), the prefix of ids that become memory state keys or
 * request ids: memory's state and replay tables are B-trees by key, so ids made together sort
 * together and land on the same few pages, appended at the end, instead of a random page each.
 */
export const timePrefix = (): string => Date.now().toString(16).padStart(12, '0');
