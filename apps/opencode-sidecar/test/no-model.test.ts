import { describe, expect, it } from "vitest";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

describe("sidecar without a model", () => {
  let h!: Harness;
  useHarness({ MODEL_BASE_URL: "", MODEL_NAME: "" }, (started) => (h = started));

  it("starts, says so in /health, and answers delegation with 503 naming the variables", async () => {
    const health = (await (await fetch(`${h.sidecar.url}/health`)).json()) as { opencode: { model: unknown }; problems: string[] };
    expect(health.opencode.model).toBeNull();
    expect(health.problems.join(" ")).toMatch(/MODEL_BASE_URL/);
    const res = await h.post("/delegate", delegateBody(h, "ses_nomodel", "hi"));
    expect(res.status).toBe(503);
    expect(res.body.error.message).toMatch(/MODEL_BASE_URL.*MODEL_NAME.*ANTHROPIC_API_KEY.*OPENCODE_CONFIG/);
  });
});
