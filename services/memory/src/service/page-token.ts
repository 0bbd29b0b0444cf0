// Page tokens are opaque to clients: base64url JSON holding the cursor and a
// fingerprint of the query it belongs to, so a token replayed against another
// query (or a mangled one) is INVALID_ARGUMENT, not a silently wrong page.
import { createHash } from 'node:crypto';
import { errors } from '@elixirchain/runtime';

interface TokenBody {
  v: 1;
  q: string;
  c: string | number;
}

export function queryFingerprint(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodePageToken(fingerprint: string, cursor: string | number | undefined): string {
  if (cursor === undefined) return '';
  const body: TokenBody = { v: 1, q: fingerprint, c: cursor };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The cursor in token, or undefined for an empty token. */
export function decodePageToken<T extends string | number>(
  token: string,
  fingerprint: string,
  kind: 'string' | 'number',
  field = 'page_token',
): T | undefined {
  if (!token) return undefined;
  let body: TokenBody | undefined;
  try {
    if (token.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('not base64url');
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as TokenBody;
  } catch {
    throw errors.invalidArgument(field, 'is not a page token this service issued', 'INVALID_PAGE_TOKEN');
  }
  if (!body || body.v !== 1 || typeof body.c !== kind || (kind === 'number' && !Number.isSafeInteger(body.c))) {
    throw errors.invalidArgument(field, 'is not a page token this service issued', 'INVALID_PAGE_TOKEN');
  }
  if (body.q !== fingerprint) {
    throw errors.invalidArgument(field, 'belongs to a different query; repeat the query with its other fields unchanged', 'INVALID_PAGE_TOKEN');
  }
  return body.c as T;
}
