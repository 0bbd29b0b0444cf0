import assert from 'node:assert/strict';
import { ElixirError } from '../errors/index.js';

/** The gRPC code a call failed with, or 'ok': lets a test compare outcomes of many calls at once. */
export async function statusCodeOf(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof ElixirError, String(error));
    return error.code;
  }
}
