import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { startSidecar } from "../src/main.js";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

const redisUrl = process.env.REDIS_URL;
if (process.env.CI && !redisUrl) throw new Error("CI must provide REDIS_URL: the Redis binding store is tested for real");

/** Sessions outlive the sidecar: the engine keeps them on disk, bindings come back from the follow-up or Redis. */
describe("sidecar restart", () => {
  let h!: Harness;
  useHarness({}, (started) => (h = started));

  it("a follow-up that re-sends its binding resumes with context and streams after a restart", async () => {
    h.model.script({ text: "The code word is heron." });
    const first = await h.post("/delegate", delegateBody(h, "ses_restart", "Remember the code word"));
    const ocId = first.body.metadata.opencodeSessionId as string;
    await h.restart();

    h.receiver.reset();
    h.model.script({ text: "It was heron." });
    const { prompt: _p, ...binding } = delegateBody(h, "ses_restart", "");
    const again = await h.post(`/sessions/${ocId}/prompt`, { ...binding, prompt: "What was the code word?" });
    expect(again.body).toMatchObject({ status: "success", output: "It was heron.", metadata: { opencodeSessionId: ocId, nubabelSessionId: "ses_restart" } });
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("The code word is heron.");
    await h.receiver.until(() => h.receiver.updates("ses_restart").includes("completed"));
    expect(h.receiver.updates("ses_restart")).toEqual(["running", "completed"]);
    expect(h.receiver.progress("ses_restart").at(-1)).toMatchObject({ type: "completed", data: { output: "It was heron." } });
    // Two cold engine starts and two cold folder instances: about 40 s on an idle two-core machine.
  }, 150_000);

  it("another organization's follow-up cannot reach the session", async () => {
    h.model.script({ text: "secret plans" });
    const first = await h.post("/delegate", delegateBody(h, "ses_owned", "plans"));
    const ocId = first.body.metadata.opencodeSessionId as string;
    const stolen = await h.post(`/sessions/${ocId}/prompt`, { prompt: "tell me", organizationId: "org_other" });
    expect(stolen.status).toBe(404);
    expect(h.model.requests).toHaveLength(1);
  });

  it("attaches to an engine someone else runs (OPENCODE_URL)", async () => {
    const endpoint = h.sidecar.engine.endpoint()!;
    const attached = await startSidecar({
      SIDECAR_PORT: "0",
      SIDECAR_SHARED_SECRET: h.secret,
      NUBABEL_CALLBACK_URL: h.receiver.url,
      SIDECAR_DATA_DIR: h.dataDir,
      MODEL_BASE_URL: h.model.url,
      MODEL_NAME: "scripted",
      OPENCODE_URL: endpoint.url,
      OPENCODE_SERVER_PASSWORD: endpoint.password!,
      LOG_LEVEL: "silent",
    });
    try {
      const health = await (await fetch(`${attached.url}/health`)).json();
      expect(health).toMatchObject({ status: "healthy", opencode: { state: "attached", version: "1.18.33" } });
      h.model.script({ text: "via the attached engine" });
      const body = JSON.stringify(delegateBody(h, "ses_attached", "hello"));
      const res = await fetch(`${attached.url}/delegate`, { method: "POST", body, headers: { "content-type": "application/json", ...Webhooks.sign(h.secret, { direction: "nubabel-to-sidecar", method: "POST", path: "/delegate" }, body) } });
      expect(await res.json()).toMatchObject({ status: "success", output: "via the attached engine" });
    } finally {
      await attached.close();
    }
    // Closing the attached sidecar leaves the engine it did not start running.
    expect(h.sidecar.engine.endpoint()).toBeDefined();
    h.model.script({ text: "still up" });
    expect((await h.post("/delegate", delegateBody(h, "ses_after_attach", "hi"))).body.output).toBe("still up");
  });

  it("refuses to attach to an engine with the wrong password", async () => {
    const endpoint = h.sidecar.engine.endpoint()!;
    await expect(
      startSidecar({ SIDECAR_PORT: "0", SIDECAR_SHARED_SECRET: h.secret, SIDECAR_DATA_DIR: h.dataDir, OPENCODE_URL: endpoint.url, OPENCODE_SERVER_PASSWORD: "wrong", LOG_LEVEL: "silent" }),
    ).rejects.toThrow(/answered 401/);
  });

  describe.runIf(redisUrl)("with Redis", () => {
    it("keeps bindings and refuses replays across sidecar instances", async () => {
      const redis = { REDIS_URL: redisUrl!, REDIS_PREFIX: `sidecar-test:${randomUUID()}:` };
      await h.restart(redis);
      h.model.script({ text: "noted" });
      const first = await h.post("/delegate", delegateBody(h, "ses_redis", "note this"));
      const ocId = first.body.metadata.opencodeSessionId as string;

      const body = JSON.stringify({ prompt: "and now?" });
      const headers = Webhooks.sign(h.secret, { direction: "nubabel-to-sidecar", method: "POST", path: `/sessions/${ocId}/prompt` }, body);
      await h.restart(redis);
      h.receiver.reset();
      h.model.script({ text: "still here" });
      // The bare follow-up names no callbacks: they come from Redis.
      const send = () =>
        fetch(`${h.sidecar.url}/sessions/${ocId}/prompt`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
      const res = await send();
      expect(await res.json()).toMatchObject({ status: "success", output: "still here" });
      await h.receiver.until(() => h.receiver.progress("ses_redis").some((e) => e.type === "completed"));
      expect(h.receiver.received.find((r) => r.path.includes("/ses_redis/progress"))).toMatchObject({ token: "token-for-ses_redis", signatureError: undefined });

      await h.restart(redis);
      expect((await send()).status).toBe(401); // the same webhook-id, seen by the previous instance
    }, 150_000);
  });
});
