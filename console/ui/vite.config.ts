import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The production build the gateway serves (console/ui/dist); `npm run dev:ui -w console` proxies /api to a running console.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 200 },
  server: { proxy: { '/api': process.env.ELIXIRCHAIN_CONSOLE_URL ?? 'http://127.0.0.1:8080' } },
});
