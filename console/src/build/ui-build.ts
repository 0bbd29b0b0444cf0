import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CONSOLE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const UI_DIST = path.join(CONSOLE_ROOT, 'ui', 'dist');

export function uiBuilt(dist = UI_DIST): boolean {
  return fs.existsSync(path.join(dist, 'index.html'));
}

/**
 * Builds the UI with Vite (what `npm run build -w console` does). `npm start`
 * calls it when console/ui/dist is missing, so neither `npm ci` nor `npm test`
 * pays for a bundle they do not need.
 */
export async function buildUi(options: { outDir?: string; print?: (line: string) => void; atomic?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  if (options.atomic) {
    // Built inside dist (ignored by git and eslint even if a killed start leaves it), then moved in:
    // hashed assets first, index.html last by rename, so a gateway serving dist never sees half a build.
    const target = options.outDir ?? UI_DIST;
    const staging = path.join(target, `.staging-${process.pid}-${Date.now()}`);
    try {
      await buildUi({ ...options, outDir: staging, atomic: false });
      if (uiBuilt(target)) return;
      fs.mkdirSync(path.join(target, 'assets'), { recursive: true });
      for (const name of fs.readdirSync(path.join(staging, 'assets'))) fs.renameSync(path.join(staging, 'assets', name), path.join(target, 'assets', name));
      fs.renameSync(path.join(staging, 'index.html'), path.join(target, 'index.html'));
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
    return;
  }
  const viteBin = path.join(path.dirname(fileURLToPath(import.meta.resolve('vite/package.json'))), 'bin', 'vite.js');
  const args = [viteBin, 'build', '--config', path.join(CONSOLE_ROOT, 'ui', 'vite.config.ts'), '--logLevel', 'warn'];
  if (options.outDir) args.push('--outDir', options.outDir, '--emptyOutDir');
  options.print?.('building the console UI (vite build)…');
  const child = spawn(process.execPath, args, { cwd: CONSOLE_ROOT, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
  child.on('error', () => {});
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (options.signal?.aborted) throw new Error('the UI build was stopped');
  if (code !== 0) throw new Error(`vite build failed (exit ${code}):\n${output.trim().split('\n').slice(-20).join('\n')}`);
}
