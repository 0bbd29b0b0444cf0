import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * Serves the UI's production build. Unknown paths get index.html (the UI
 * routes on the client); hashed assets are cached for good, index.html never.
 */
export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): void {
  const index = path.join(root, 'index.html');
  if (!fs.existsSync(index)) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`The console UI is not built (${index} is missing).\nBuild it with: npm run build -w console\n`);
    return;
  }
  const resolved = path.resolve(root, `.${path.posix.normalize(pathname)}`);
  const inside = resolved === root || resolved.startsWith(root + path.sep);
  let file = inside && fs.existsSync(resolved) && fs.statSync(resolved).isFile() ? resolved : index;
  if (file !== index && !inside) file = index;
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const immutable = file !== index && file.includes(`${path.sep}assets${path.sep}`);
  res.writeHead(200, {
    'content-type': type,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  fs.createReadStream(file).pipe(res);
}
