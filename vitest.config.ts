import { defineConfig } from "vitest/config";

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    // Integration tests boot real engines, and wait on them, on servers and on timers: with two
    // files at a time a quarter of two cores stayed idle, so three run at once.
    maxWorkers: 3,
    minWorkers: 1,
    reporters: ["default"],
    projects: [
      {
        test: {
          name: "all",
          include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "apps/*/src/**/*.test.ts", "apps/*/test/**/*.test.ts"],
          // New embedded databases start from one migrated PGlite dump instead of running initdb.
          globalSetup: ["apps/nubabel/test/fixtures/pglite-setup.ts"],
          ...shared,
        },
      },
      {
        // The sidecar's suites again with OhMyOpenCode loaded into the engine (issue 11): everything
        // they check holds with it on as with it off.
        test: {
          name: "sidecar with OhMyOpenCode",
          include: ["apps/opencode-sidecar/test/**/*.test.ts"],
          // Its own suite turns it on by itself.
          exclude: ["apps/opencode-sidecar/test/omo.test.ts"],
          env: { SIDECAR_OMO: "on" },
          ...shared,
        },
      },
    ],
  },
});
