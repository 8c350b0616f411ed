import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The protocol library is CommonJS once compiled; its TypeScript sources are browser-safe (zod only),
// so the dashboard bundles them directly and never depends on `tsc -b` having run first.
const protocol = fileURLToPath(new URL('../../libs/protocol/src/index.ts', import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: { alias: { '@vmfarm/protocol': protocol } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // zod's sources carry /* @__PURE__ */ comments Rollup cannot place; they only cost tree-shaking.
      onwarn: (warning, warn) => (warning.code === 'INVALID_ANNOTATION' ? undefined : warn(warning)),
    },
  },
  // `vite` alone: a dev server whose /api goes to a farm (`npm run farm`).
  server: { proxy: { '/api': process.env.VMFARM_CONTROLLER ?? 'http://127.0.0.1:8700' } },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
