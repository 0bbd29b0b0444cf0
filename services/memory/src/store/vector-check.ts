// Vector validation shared by backends: every backend refuses the same vectors.
import { dimensionMismatch, invalidArgument, StoreErrorReason } from './store-errors.js';

/** Checks length, finiteness and non-zero norm; returns a Float32Array copy. */
export function checkVector(vector: ArrayLike<number>, dimensions: number, field: string, namespace: string): Float32Array {
  if (vector.length !== dimensions) throw dimensionMismatch(field, namespace, dimensions, vector.length);
  const out = new Float32Array(vector.length);
  let norm = 0;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw invalidArgument(field, `component ${i} is not a finite number`, StoreErrorReason.INVALID_VECTOR);
    }
    out[i] = x;
    if (!Number.isFinite(out[i])) {
      throw invalidArgument(field, `component ${i} does not fit a 32-bit float`, StoreErrorReason.INVALID_VECTOR);
    }
    norm += x * x;
  }
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw invalidArgument(field, 'a zero vector has no direction to compare', StoreErrorReason.INVALID_VECTOR);
  }
  return out;
}
