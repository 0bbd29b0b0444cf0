// The poller lives with the other test support in @elixirchain/runtime, so service tests share it too.
export { until } from '@elixirchain/runtime';
