import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DelegateResponse } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";

/**
 * A hand-over the sidecar accepted the signature of but could not take (its engine restarting) is
 * tried again as the same message: the same webhook-id, signed later, so the sidecar's replay
 * guard, which has seen the first try, lets the retry through (fake sidecar).
 */
describe("a hand-over retried after the sidecar's engine was restarting (fake sidecar)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, unavailableFirst: 2 });
    nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("keeps one webhook-id across the tries, each signed later than the one before, and the run goes through", async () => {
    const { apiKey } = await createOrganization(nubabel, "Acme");
    const res = await nubabel.api("/api/delegate", { body: { prompt: "hello" }, apiKey });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as DelegateResponse;
    expect(answer.output).toContain("hello");

    const tries = sidecar.signed.filter((s) => s.path === "/delegate");
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((t) => t.webhookId))).toEqual(new Set([`msg_${answer.metadata.runId}`]));
    expect(tries[1]!.timestamp).toBeGreaterThan(tries[0]!.timestamp);
    expect(tries[2]!.timestamp).toBeGreaterThan(tries[1]!.timestamp);
  });
});

/**
 * A pool where one sidecar has no model: it refuses a new session before creating anything, so the
 * session goes to another one (fake sidecars; the real sidecar's refusal is in no-model.test.ts).
 */
describe("a new session refused by a sidecar with no model goes to another one (fake sidecars)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let unset: FakeSidecar;
  let good: FakeSidecar;
  let nubabel: TestNubabel;

  beforeAll(async () => {
    backend = await backendEnv("shared");
    unset = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, noModel: true });
    good = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URLS: `${unset.url},${good.url}` });
  });
  afterAll(async () => {
    await nubabel?.close();
    await unset?.close();
    await good?.close();
    await backend?.cleanup();
  });

  it("answers every new conversation from the sidecar that has a model", async () => {
    const { apiKey } = await createOrganization(nubabel, "Acme");
    for (let i = 0; i < 4; i++) {
      const res = await nubabel.api("/api/delegate", { body: { prompt: `hello ${i}` }, apiKey });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as DelegateResponse).output).toContain(`hello ${i}`);
    }
    expect(unset.signed.filter((s) => s.path === "/delegate").length).toBeGreaterThan(0);
    expect(good.signed.filter((s) => s.path === "/delegate")).toHaveLength(4);
  });
});
