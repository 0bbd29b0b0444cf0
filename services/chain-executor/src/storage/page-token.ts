// A page of ours is not a page of memory's (we filter what we read), so our
// token is memory's token for the page we stopped in plus how many of its
// entries were already consumed.
export function encodeListToken(token: string, skip: number): string {
  return Buffer.from(JSON.stringify({ t: token, s: skip })).toString('base64url');
}

/** Throws InvalidPageTokenError for a token this service did not issue. */
export function decodeListToken(pageToken: string): { token: string; skip: number } {
  if (pageToken === '') return { token: '', skip: 0 };
  try {
    const parsed = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8')) as { t: unknown; s: unknown };
    if (typeof parsed.t === 'string' && Number.isInteger(parsed.s) && (parsed.s as number) >= 0) return { token: parsed.t, skip: parsed.s as number };
  } catch {
    // fall through
  }
  throw new InvalidPageTokenError();
}

export class InvalidPageTokenError extends Error {
  constructor() {
    super('page_token was not issued by this service');
    this.name = 'InvalidPageTokenError';
  }
}
