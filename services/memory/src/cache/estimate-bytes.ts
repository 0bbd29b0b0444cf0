// A cheap upper-ish estimate of an object's heap size, for byte-bounded caches.
export function estimateBytes(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 8;
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
      return 8;
    case 'object': {
      if (depth > 32) return 64;
      if (ArrayBuffer.isView(value)) return 64 + value.byteLength;
      if (value instanceof Date) return 32;
      if (Array.isArray(value)) return value.reduce((n: number, v) => n + estimateBytes(v, depth + 1), 32);
      let n = 48;
      for (const [k, v] of Object.entries(value)) n += 16 + k.length * 2 + estimateBytes(v, depth + 1);
      return n;
    }
    default:
      return 16;
  }
}
