import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DelegateResponse } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";

describe("stopping", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, delegateDelayMs: 500 });
  });
  afterAll(async () => {
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("ends open streams, lets a delegation in flight finish and record its mapping, then stops", async () => {
    const first = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
    const { apiKey } = await createOrganization(first, "Acme");
    const sse = await openSse(`${first.url}/api/sidecar/sessions/stopping/stream`, { authorization: `Bearer ${apiKey}` });
    await sse.until((c) => c.events.length === 1);
    const inFlight = first.api("/api/delegate", { body: { prompt: "finish me", sessionId: "stopping" }, apiKey });
    // Stop only once the run is under way on the sidecar.
    await vi.waitFor(() => expect(sidecar.received).toHaveLength(1));
    await first.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    const answered = (await res.json()) as DelegateResponse;
    await expect(sse.until(() => false, 5_000)).rejects.toThrow(/stream ended/);

    // The next instance resumes the same OpenCode session: the mapping was stored before stopping.
    const second = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
    try {
      const again = (await (await second.api("/api/delegate", { body: { prompt: "still there?", sessionId: "stopping" }, apiKey })).json()) as DelegateResponse;
      expect(again.metadata.opencodeSessionId).toBe(answered.metadata.opencodeSessionId);
    } finally {
      await second.close();
    }
  });
});
