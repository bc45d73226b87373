/**
 * Builds the webmail (Preact) into src/web/ui/dist, which the web listener serves. JSX is
 * compiled by Vite's own esbuild step with Preact's automatic runtime, so no plugin is needed.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: `${root}dist`,
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or modulepreload polyfill: the page CSP allows scripts of 'self' only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
