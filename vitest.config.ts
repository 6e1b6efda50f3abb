import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { buildSync } from "esbuild";
import { defineConfig } from "vitest/config";

/**
 * The push tests' consumer Worker (test/consumer-worker/), bundled as a
 * user's build would bundle it: it imports edgeq's adapter from client/.
 */
const consumerScript = buildSync({
  entryPoints: ["./test/consumer-worker/index.ts"],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["cloudflare:*"],
  write: false,
  logLevel: "error",
}).outputFiles[0].text;

/** The project of the suites that run inside workerd. */
const WORKERS_PROJECT = "workers";

export default defineConfig({
  test: {
    projects: [
      {
        // The Worker's suites, inside workerd.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // The Worker with a metered partition (bench/metered-worker.ts), so tests can count rows and statements.
            main: "./bench/metered-worker.ts",
            miniflare: {
              // Test-only secrets: the admin token that test/helpers.ts sends by default.
              bindings: {
                EDGEQ_AUTO_CREATE_QUEUES: "true",
                EDGEQ_ADMIN_TOKEN: "test-admin-token",
                EDGEQ_TOKEN_SECRET: "test-token-secret",
                // The SQS endpoint's key (test/sqs-fuzz.test.ts signs with it).
                EDGEQ_SQS_KEYS: "AKIDFUZZ:fuzz-secret",
              },
              // A second Worker that produces through a service binding to EdgeqService; a third that
              // consumes by push (edgeq's binding CONSUMER to it), and answers push's HTTP requests too:
              // every outbound fetch of the Worker under test lands there.
              serviceBindings: { PRODUCER: "producer", CONSUMER: "consumer" },
              outboundService: "consumer",
              workers: [
                {
                  name: "producer",
                  modules: true,
                  scriptPath: "./test/producer-worker/index.js",
                  compatibilityDate: "2026-11-01",
                  // The Worker under test runs as the pool's runner Worker, named after its project.
                  serviceBindings: { EDGEQ: { name: `vitest-plugin-runner-${WORKERS_PROJECT}`, entrypoint: "EdgeqService" } },
                },
                {
                  name: "consumer",
                  modules: true,
                  script: consumerScript,
                  compatibilityDate: "2026-11-01",
                },
              ],
            },
          }),
        ],
        test: {
          name: WORKERS_PROJECT,
          include: ["test/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // Over HTTP, in Node, against the Worker served by Miniflare in plain workerd with its
        // default flags (vitest's runner Worker changes how promises cross requests).
        test: {
          name: "direct",
          include: ["test/direct/**/*.test.mjs"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The dashboard in Chromium, in Node, against the Worker served by Miniflare.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.mjs"],
          environment: "node",
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
