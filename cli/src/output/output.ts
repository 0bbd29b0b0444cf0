/** Human output by default, one JSON document per result with --json (for scripts). */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** A human line; suppressed in --json mode so stdout stays parseable. */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** Streamed text without a newline (chat deltas). */
  write(text: string): void {
    if (!this.json) this.stdout.write(text);
  }

  /** A human note on stderr (progress, hints); never mixes into --json stdout. */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** The result: JSON in --json mode, else the human rendering. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
    else human();
  }

  /** One JSON object per line, for streams in --json mode. */
  event(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
  }

  table(rows: Record<string, unknown>[], columns: string[]): void {
    if (rows.length === 0) {
      this.line('(none)');
      return;
    }
    const cells = rows.map((row) => columns.map((c) => formatCell(row[c])));
    const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
    this.line(columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  ').trimEnd());
    for (const r of cells) this.line(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  }
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString().replace(/\.\d+Z$/, 'Z');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ').slice(0, 60);
}

// Buffers (tool bundles) would print as huge arrays; dates as ISO strings.
function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') return '<bytes>';
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}
