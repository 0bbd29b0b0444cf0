// Regenerates everything derived from the .proto sources:
//   google/rpc/*.proto   vendored from the google-proto-files package
//   gen/ts/              TypeScript (ts-proto, grpc-js services)
//   gen/descriptor.binpb FileDescriptorSet with imports, for server reflection
// `npm run gen` then `git diff --exit-code proto/` is the CI check.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const vendorSource = join(dirname(require.resolve('google-proto-files/package.json')), 'google', 'rpc');
const vendorTarget = join(protoDir, 'google', 'rpc');

mkdirSync(vendorTarget, { recursive: true });
for (const file of ['status.proto', 'error_details.proto', 'code.proto']) {
  copyFileSync(join(vendorSource, file), join(vendorTarget, file));
}

rmSync(join(protoDir, 'gen'), { recursive: true, force: true });
const buf = (...args) => execFileSync('buf', args, { cwd: protoDir, stdio: 'inherit' });
buf('lint');
buf('generate');
buf('build', '-o', 'gen/descriptor.binpb');
console.log('proto: generated gen/ts and gen/descriptor.binpb');
