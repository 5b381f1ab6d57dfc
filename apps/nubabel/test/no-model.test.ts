import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiRun, ApiRunAccepted, ErrorBody, NubabelHealth } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { poll } from "./fixtures/poll.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

/**
 * The README's promise for a machine with no model configured, on the real sidecar: both services
 * run, `/health` says what is missing, and a delegation answers 503 naming the variables to set,
 * as often as it is sent (a sidecar set up wrong is not a broken one: its circuit stays closed).
 */
describe("no model configured (real sidecar)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let apiKey: string;

  beforeAll(async () => {
    backend = await backendEnv("embedded");
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, { MODEL_BASE_URL: "", MODEL_NAME: "" });
    nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: real.sidecar.url, NUBABEL_PORT: String(real.nubabelPort), SIDECAR_BREAKER_THRESHOLD: "2" });
    apiKey = (await createOrganization(nubabel, "Acme")).apiKey;
  });
  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await backend?.cleanup();
  });

  it("/health names what is missing", async () => {
    const health = (await (await nubabel.api("/health")).json()) as NubabelHealth;
    expect(health.sidecar.problems?.join(" ")).toMatch(/no model configured: set MODEL_BASE_URL and MODEL_NAME/);
  });

  it("a delegation, waiting or not, answers 503 no_model_configured naming the variables, every time", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await nubabel.api("/api/delegate", { body: { prompt: "hello" }, apiKey });
      const body = (await res.json()) as ErrorBody;
      expect(res.status, JSON.stringify(body)).toBe(503);
      expect(body.error.code).toBe("no_model_configured");
      expect(body.error.message).toMatch(/MODEL_BASE_URL and MODEL_NAME.*ANTHROPIC_API_KEY.*OPENCODE_CONFIG/);
    }
    const accepted = await nubabel.api("/api/delegate", { body: { prompt: "hello" }, apiKey, headers: { prefer: "respond-async" } });
    expect(accepted.status).toBe(202);
    const { runId } = (await accepted.json()) as ApiRunAccepted;
    const run = await poll(
      async () => (await (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json()) as ApiRun,
      (now) => now.status !== "queued" && now.status !== "running",
    );
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ code: "no_model_configured", message: expect.stringContaining("MODEL_BASE_URL") });
    // Nothing reached a model: there is none.
    expect(real.model.requests).toHaveLength(0);
  });
});
