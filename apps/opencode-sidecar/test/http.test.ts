import { describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { unfinishedRequest } from "@nubabel/testkit";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

const DELEGATE = { direction: "nubabel-to-sidecar", method: "POST", path: "/delegate" } as const;

/** Acceptance 5: the sidecar's door. Every refusal names its reason, nothing runs. */
describe("sidecar HTTP boundary", () => {
  let h!: Harness;
  useHarness({ REQUEST_TIMEOUT_MS: "5000" }, (started) => (h = started));

  const body = () => delegateBody(h, "ses_http", "hello");
  const raw = (route: string, payload: string, headers: Record<string, string>) =>
    fetch(`${h.sidecar.url}${route}`, { method: "POST", body: payload, headers: { "content-type": "application/json", ...headers } });

  it("GET /health needs no signature and reports the engine and model", async () => {
    const res = await fetch(`${h.sidecar.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "healthy", opencode: { enabled: true, state: "running", version: "1.18.33", model: "nubabel-model/scripted" } });
  });

  it("refuses unsigned, wrongly signed, replayed and stale requests with 401", async () => {
    const payload = JSON.stringify(body());
    expect((await raw("/delegate", payload, {})).status).toBe(401);
    expect((await h.post("/delegate", body(), { secret: Webhooks.generateSecret() })).status).toBe(401);
    const headers = Webhooks.sign(h.secret, DELEGATE, payload, new Date(Date.now() - 10 * 60_000));
    const stale = await raw("/delegate", payload, headers);
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error: { message: string } }).error.message).toMatch(/too old/i);

    h.model.reset();
    const signed = Webhooks.sign(h.secret, DELEGATE, payload);
    expect((await raw("/delegate", payload, signed)).status).toBe(200);
    const replay = await raw("/delegate", payload, signed);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { message: string } }).error.message).toMatch(/replayed/);
    // A body changed under a valid signature is refused too.
    const tampered = await raw("/delegate", payload.replace("hello", "HELLO"), Webhooks.sign(h.secret, DELEGATE, payload));
    expect(tampered.status).toBe(401);
    expect(h.model.requests).toHaveLength(1);
  });

  it("answers malformed bodies with 400 naming the field", async () => {
    const missing = await h.post("/delegate", { ...body(), prompt: undefined });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^prompt:/);
    const badOrg = await h.post("/delegate", { ...body(), organizationId: "../../etc" });
    expect(badOrg.status).toBe(400);
    expect(badOrg.body.error.details.fields).toEqual(["organizationId"]);
    const notJson = await h.post("/delegate", undefined, { raw: "{not json" });
    expect(notJson.status).toBe(400);
    const badUrl = await h.post("/delegate", { ...body(), callbacks: { ...body().callbacks, progress: "not a url" } });
    expect(badUrl.body.error.message).toMatch(/callbacks\.progress/);
  });

  it("refuses callback URLs outside NUBABEL_CALLBACK_URL's origin", async () => {
    const res = await h.post("/delegate", { ...body(), callbacks: { ...body().callbacks, mcpInvoke: "http://169.254.169.254/latest" } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/callbacks\.mcpInvoke: origin http:\/\/169\.254\.169\.254/);
    const followUp = await h.post("/sessions/ses_abc/prompt", { prompt: "x", callbacks: { ...body().callbacks, progress: "http://evil.example/p" } });
    expect(followUp.status).toBe(400);
  });

  it("refuses unknown categories and skills with the known ones, creating no session", async () => {
    h.model.reset();
    const cat = await h.post("/delegate", { ...body(), category: "galaxy-brain" });
    expect(cat.status).toBe(400);
    expect(cat.body.error.details.known).toContain("ultrabrain");
    const skill = await h.post("/delegate", { ...body(), load_skills: ["mcp-integration", "time-travel"] });
    expect(skill.status).toBe(400);
    expect(skill.body.error.message).toMatch(/time-travel.*known: .*mcp-integration/);
    expect(h.model.requests).toHaveLength(0);
  });

  it("bounds bodies", async () => {
    const res = await h.post("/delegate", { ...body(), prompt: "x".repeat(1_100_000) });
    expect(res.status).toBe(413);
    // A body that never arrives in full is cut off (REQUEST_TIMEOUT_MS) rather than held for ever.
    expect(await unfinishedRequest(h.sidecar.url, "/delegate", 15_000)).toMatch(/^HTTP\/1\.1 408[^]*"code":"request_timeout".*REQUEST_TIMEOUT_MS/);
  });

  it("keeps the plugin bridge to its own secret", async () => {
    const res = await fetch(`${h.sidecar.url}/internal/bridge/mcp/invoke`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer guess" },
      body: JSON.stringify({ sessionID: "ses_x", provider: "notion", toolName: "t" }),
    });
    expect(res.status).toBe(401);
  });
});
