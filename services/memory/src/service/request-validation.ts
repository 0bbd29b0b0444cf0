// Collects field violations for one request and throws them together as one
// INVALID_ARGUMENT with google.rpc.BadRequest (field paths use proto names).
import { errors, type FieldViolation } from '@elixirchain/runtime';
import { LIMITS } from './limits.js';

export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    if (this.list.length < 50) this.list.push({ field, description });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw errors.invalidArguments(this.list);
  }

  /** A non-empty, well-formed identifier without control characters, at most maxBytes of UTF-8. */
  id(field: string, value: string, maxBytes: number = LIMITS.idBytes, allowEmpty = false): void {
    if (value === '') {
      if (!allowEmpty) this.add(field, 'is required');
      return;
    }
    if (Buffer.byteLength(value) > maxBytes) this.add(field, `must be at most ${maxBytes} bytes`);
    // eslint-disable-next-line no-control-regex
    else if (/[\u0000-\u001f\u007f]/.test(value)) this.add(field, 'must not contain control characters');
    else if (!value.isWellFormed()) this.add(field, 'must be valid Unicode (no lone surrogates)');
  }

  requestId(field: string, value: string): void {
    this.id(field, value, LIMITS.requestIdBytes, true);
  }

  text(field: string, value: string, maxBytes: number): void {
    if (Buffer.byteLength(value) > maxBytes) this.add(field, `must be at most ${maxBytes} bytes`);
    else if (!value.isWellFormed()) this.add(field, 'must be valid Unicode (no lone surrogates)');
  }

  json(field: string, value: unknown, maxBytes: number): number {
    if (value === undefined) return 0;
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes > maxBytes) this.add(field, `must be at most ${maxBytes} bytes as JSON, got ${bytes}`);
    return bytes;
  }

  version(field: string, value: number | undefined): void {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) this.add(field, 'must be a non-negative integer');
  }

  /** page_size: 0 means the default; above the maximum is clamped. */
  pageSize(field: string, value: number): number {
    if (!Number.isInteger(value) || value < 0) {
      this.add(field, 'must not be negative');
      return LIMITS.defaultPageSize;
    }
    return value === 0 ? LIMITS.defaultPageSize : Math.min(value, LIMITS.maxPageSize);
  }
}
