// CI's contract guard: the generated code matches the .proto sources, and the
// contract has no breaking change against main.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: protoDir, stdio: 'inherit', ...opts });

run(process.execPath, [join(protoDir, 'scripts', 'gen.js')]);
try {
  run('git', ['diff', '--exit-code', '--stat', '--', '.']);
} catch {
  console.error('proto: generated code differs from the .proto sources; run `npm run gen` and commit the result');
  process.exit(1);
}

const hasMain = (() => {
  try {
    execFileSync('git', ['rev-parse', '--verify', '--quiet', 'main:proto/buf.yaml'], { cwd: protoDir, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (hasMain) {
  const top = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: protoDir }).toString().trim();
  run('buf', ['breaking', '--against', `${join(top, '.git')}#branch=main,subdir=proto`]);
  console.log('proto: no breaking change against main');
} else {
  console.log('proto: main has no contract yet; breaking check skipped');
}
