import { defineConfig } from "vite";

/**
 * Built into `dist/` and served by Nubabel at `/console/` (`apps/nubabel/src/http/routes/console.ts`):
 * hashed file names under `assets/`, so they can be cached forever, and no inline script, so the
 * content security policy can forbid it.
 */
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The polyfill would be an inline script; every browser the console targets has modulepreload.
    modulePreload: { polyfill: false },
    // Everything is a file: no `data:` URLs for the policy to allow.
    assetsInlineLimit: 0,
    target: "es2022",
  },
});
