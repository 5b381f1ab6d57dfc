import path from "node:path";
import { describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { ConfigError, isEmbedded, parseEnv, retiredVariables } from "./env.js";

const secret = Webhooks.generateSecret();

describe("parseEnv", () => {
  it("fills the documented defaults", () => {
    const env = parseEnv({ SIDECAR_SHARED_SECRET: secret });
    expect(env).toMatchObject({
      NUBABEL_PORT: 3000,
      NUBABEL_HOST: "127.0.0.1",
      NUBABEL_URL: undefined,
      NUBABEL_DATA_DIR: path.resolve(".data/nubabel"),
      SIDECAR_URL: "http://127.0.0.1:3001",
      PROGRESS_HEARTBEAT_MS: 15_000,
      MAPPING_CACHE_TTL_SECONDS: 86_400,
      SIDECAR_REQUEST_TIMEOUT_MS: 10_000,
      ORG_MAX_RUNNING: 8,
      ORG_MAX_QUEUED: 100,
      RUN_RECONCILE_INTERVAL_MS: 10_000,
      RUN_LOST_AFTER_MS: 45_000,
      LOG_LEVEL: "info",
    });
    expect(isEmbedded(env)).toBe(true);
  });

  it("resolves a relative data folder from where npm was invoked", () => {
    const env = parseEnv({ SIDECAR_SHARED_SECRET: secret, INIT_CWD: "/srv/repo", NUBABEL_DATA_DIR: "./.data/nubabel" });
    expect(env.NUBABEL_DATA_DIR).toBe("/srv/repo/.data/nubabel");
    expect(parseEnv({ SIDECAR_SHARED_SECRET: secret, INIT_CWD: "/srv/repo", NUBABEL_DATA_DIR: "/var/nubabel" }).NUBABEL_DATA_DIR).toBe("/var/nubabel");
  });

  it("treats blank values as unset and trims a trailing slash off NUBABEL_URL", () => {
    const env = parseEnv({ SIDECAR_SHARED_SECRET: secret, DATABASE_URL: "", REDIS_URL: " ", NUBABEL_URL: "https://nubabel.example.com/" });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.NUBABEL_URL).toBe("https://nubabel.example.com");
  });

  it("names every bad variable at once", () => {
    let error: unknown;
    try {
      parseEnv({ SIDECAR_SHARED_SECRET: "plain-text", NUBABEL_PORT: "70000", DATABASE_URL: "nope", LOG_LEVEL: "loud" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.variables.sort()).toEqual(["DATABASE_URL", "LOG_LEVEL", "NUBABEL_PORT", "SIDECAR_SHARED_SECRET"]);
    expect(config.message).toMatch(/SIDECAR_SHARED_SECRET: must be a Standard Webhooks secret/);
  });

  it("reads the default monthly budget, refusing a cap that is not positive", () => {
    const none = parseEnv({ SIDECAR_SHARED_SECRET: secret });
    expect([none.NUBABEL_DEFAULT_MONTHLY_COST, none.NUBABEL_DEFAULT_MONTHLY_TOKENS, none.NUBABEL_DEFAULT_BUDGET_WARN_PERCENT]).toEqual([undefined, undefined, 80]);
    const env = parseEnv({ SIDECAR_SHARED_SECRET: secret, NUBABEL_DEFAULT_MONTHLY_COST: "25.5", NUBABEL_DEFAULT_MONTHLY_TOKENS: "2000000", NUBABEL_DEFAULT_BUDGET_WARN_PERCENT: "90" });
    expect(env).toMatchObject({ NUBABEL_DEFAULT_MONTHLY_COST: 25.5, NUBABEL_DEFAULT_MONTHLY_TOKENS: 2_000_000, NUBABEL_DEFAULT_BUDGET_WARN_PERCENT: 90 });
    expect(() => parseEnv({ SIDECAR_SHARED_SECRET: secret, NUBABEL_DEFAULT_MONTHLY_COST: "-1" })).toThrow(/NUBABEL_DEFAULT_MONTHLY_COST/);
    expect(() => parseEnv({ SIDECAR_SHARED_SECRET: secret, NUBABEL_DEFAULT_BUDGET_WARN_PERCENT: "120" })).toThrow(/NUBABEL_DEFAULT_BUDGET_WARN_PERCENT/);
  });

  it("explains a missing shared secret", () => {
    expect(() => parseEnv({})).toThrow(/SIDECAR_SHARED_SECRET: is required/);
  });

  it("says so when a retired variable is still set, naming what replaced it", () => {
    expect(retiredVariables({ SIDECAR_SHARED_SECRET: secret })).toEqual([]);
    expect(retiredVariables({ SIDECAR_TIMEOUT_MS: "630000" })).toEqual([expect.stringContaining("SIDECAR_REQUEST_TIMEOUT_MS")]);
  });
});
