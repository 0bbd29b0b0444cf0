// One mocha run covers every workspace and the cross-service suites in test/.
// `npx mocha path/to/file.test.ts` runs just the files named.
// Services started in-process by tests log only what matters; ELIXIRCHAIN_LOG_LEVEL=debug to see more.
process.env.ELIXIRCHAIN_LOG_LEVEL ??= 'silent';

const named = process.argv.slice(2).some((arg) => /\.test\.[cm]?[jt]s$/.test(arg));

module.exports = {
  'node-option': ['import=tsx', 'no-node-snapshot'],
  extension: ['ts'],
  spec: named
    ? []
    : [
        'proto/test/**/*.test.ts',
        'services/*/test/**/*.test.ts',
        'plugin-sdk/test/**/*.test.ts',
        'cli/test/**/*.test.ts',
        'bench/test/**/*.test.ts',
        'test/**/*.test.ts',
      ],
  recursive: true,
  timeout: 60000,
  exit: true,
};
