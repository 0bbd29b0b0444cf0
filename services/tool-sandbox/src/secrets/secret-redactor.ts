/**
 * Finds and hides exact secret values. Longer values are replaced first so a
 * secret that contains another is hidden whole.
 */
export class SecretRedactor {
  private readonly entries: Array<[name: string, value: string]>;

  constructor(secrets: Record<string, string>) {
    this.entries = Object.entries(secrets)
      .filter(([, value]) => value.length > 0)
      .sort((a, b) => b[1].length - a[1].length);
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  redact(text: string): string {
    let out = text;
    for (const [name, value] of this.entries) {
      if (out.includes(value)) out = out.split(value).join(`[REDACTED:${name}]`);
    }
    return out;
  }

  /** Redacts every string (keys included) inside a JSON value. */
  redactValue(value: unknown): unknown {
    if (this.empty) return value;
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.redactValue(v);
      return out;
    }
    return value;
  }

  /** The name of a secret whose exact value appears in any string of `value`. */
  findIn(value: unknown): string | undefined {
    if (this.empty) return undefined;
    const stack: unknown[] = [value];
    while (stack.length > 0) {
      const v = stack.pop();
      if (typeof v === 'string') {
        const hit = this.entries.find(([, secret]) => v.includes(secret));
        if (hit) return hit[0];
      } else if (Array.isArray(v)) {
        stack.push(...v);
      } else if (v !== null && typeof v === 'object') {
        for (const [k, inner] of Object.entries(v)) stack.push(k, inner);
      }
    }
    return undefined;
  }
}
