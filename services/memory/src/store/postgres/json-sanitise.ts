// PostgreSQL text and jsonb cannot hold U+0000. Exact copies live in json
// columns (which keep the escape); copies that are searched drop it, and so
// do the filter values compared with them, so both sides agree.
export function stripNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value) as T;
  if (Array.isArray(value)) return value.map((v) => stripNul(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[stripNul(k)] = stripNul(v);
    return out as T;
  }
  return value;
}
