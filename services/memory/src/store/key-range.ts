// Prefix queries as index ranges: every string that starts with `prefix` sorts
// (by code point, which is UTF-8 byte order) in [prefix, prefixUpperBound).

/** The smallest string greater than every string starting with prefix; undefined when unbounded. */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0) as number);
  while (cps.length > 0) {
    const last = cps.pop() as number;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return String.fromCodePoint(...cps, next);
    }
  }
  return undefined;
}
