import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// A static build: every script and style is a file of the site ('self' in the page's CSP), nothing
// inline, nothing from a CDN.
export default defineConfig({
  plugins: [preact()],
  build: { outDir: "dist", assetsInlineLimit: 0, sourcemap: false, modulePreload: { polyfill: false } },
});
