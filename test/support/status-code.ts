// Lives with the other test support in @elixirchain/runtime, so service tests share it too.
export { statusCodeOf } from '@elixirchain/runtime';
