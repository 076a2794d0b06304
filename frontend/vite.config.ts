/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` forwards the API paths to a producer on this machine, so the
// page uses the same relative URLs in development as behind CloudFront.
const api = process.env.COUNTQ_API ?? "http://127.0.0.1:5080";
// tests/repo/test_api_paths.py checks this list against the app's routes.
const apiPaths = ["/count", "/stats", "/health", "/ready"];

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the same build works from any path prefix or bucket.
  base: "./",
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, api])),
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test-setup.ts"],
    restoreMocks: true,
  },
});
