import { defineConfig } from "vite";

// `npm run dev` serves the UI with hot reload and sends API calls to a running
// `tyto serve` (TYTO_DEV_API, default http://127.0.0.1:8005).
const api = process.env.TYTO_DEV_API ?? "http://127.0.0.1:8005";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: Object.fromEntries(
      // The Host header is kept, so the server's same-origin check on login passes.
      ["/api", "/login", "/sessions.json", "/sessions.pcap", "/unique.txt"].map((p) => [p, { target: api, changeOrigin: false }]),
    ),
  },
});
