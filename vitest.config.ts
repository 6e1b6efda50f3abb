import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Test-only secrets: the admin token that test/helpers.ts sends by default.
        bindings: {
          EDGEQ_AUTO_CREATE_QUEUES: "true",
          EDGEQ_ADMIN_TOKEN: "test-admin-token",
          EDGEQ_TOKEN_SECRET: "test-token-secret",
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
