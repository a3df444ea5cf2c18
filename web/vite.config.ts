/**
 * The web chat page (`npm run build:web` → web/dist, served by the local runtime at `/`).
 * `npm run dev:web` serves it with hot reload on :5173 and forwards the backend's paths
 * to a runtime started with `npm start` on :8009.
 */
import { defineConfig } from 'vite';

const backend = 'http://127.0.0.1:8009';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: {
    proxy: {
      '/api/': backend,
      '/dev/': backend,
      '/ws/': { target: backend, ws: true },
    },
  },
});
