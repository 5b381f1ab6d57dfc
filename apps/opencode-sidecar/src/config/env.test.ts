import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "./env.js";

const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

describe("sidecar environment", () => {
  it("ENGINE_UNRESPONSIVE_MS: 60 s by default, 0 turns the watchdog off, and a bound an engine could not meet is refused by name", () => {
    expect(parseEnv({ SIDECAR_SHARED_SECRET: secret }).ENGINE_UNRESPONSIVE_MS).toBe(60_000);
    expect(parseEnv({ SIDECAR_SHARED_SECRET: secret, ENGINE_UNRESPONSIVE_MS: "0" }).ENGINE_UNRESPONSIVE_MS).toBe(0);
    const refused = () => parseEnv({ SIDECAR_SHARED_SECRET: secret, ENGINE_UNRESPONSIVE_MS: "500" });
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(/ENGINE_UNRESPONSIVE_MS: must be 0 \(off\) or at least 1000/);
  });
});
