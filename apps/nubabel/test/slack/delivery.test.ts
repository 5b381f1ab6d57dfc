import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { response } from "./fake-nubabel.js";
import { CHANNEL, mention, signatureHeaders, startHarness, until, type Harness } from "./harness.js";

describe("Slack event delivery", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("runs a retried event (same event_id, x-slack-retry-num) once", async () => {
    const event = mention("count my tasks");
    const first = await h.deliver(event);
    const retries = await Promise.all(
      [1, 2, 3].map((n) => h.deliver(event, { eventId: first.eventId, headers: { "x-slack-retry-num": String(n), "x-slack-retry-reason": "http_timeout" } })),
    );
    // Retries are acknowledged too (or Slack keeps retrying), but do nothing.
    expect(retries.map((r) => r.status)).toEqual([200, 200, 200]);
    await until(() => h.slack.thread(CHANNEL, event.ts as string).some((m) => m.text.includes("Answer to")), 5_000, "the answer");
    await new Promise((r) => setTimeout(r, 200));
    expect(h.nubabel.delegations).toHaveLength(1);
    expect(h.slack.callsOf("chat.postMessage")).toHaveLength(1);
  });

  it("refuses a bad signature, a stale one, a future one and a missing one with 401, and runs nothing", async () => {
    const body = { type: "event_callback", team_id: "T0000LINKED", event_id: "EvBAD", event: mention("pwn") };
    const now = Math.floor(Date.now() / 1000);
    expect((await h.post(body, { secret: "not-the-signing-secret" })).status).toBe(401);
    expect((await h.post(body, { timestamp: now - 6 * 60 })).status).toBe(401);
    expect((await h.post(body, { timestamp: now + 6 * 60 })).status).toBe(401);
    const unsigned = await fetch(`${h.url}/slack/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(unsigned.status).toBe(401);
    // A body changed after signing fails too: the signature covers the exact bytes.
    const original = JSON.stringify(body);
    const tampered = await fetch(`${h.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signatureHeaders(original, now) },
      body: original.replace("pwn", "pwned"),
    });
    expect(tampered.status).toBe(401);
    // The same request with its own bytes is accepted: the refusals above were about the signature.
    const genuine = await fetch(`${h.url}/slack/events`, { method: "POST", headers: { "content-type": "application/json", ...signatureHeaders(original, now) }, body: original });
    expect(genuine.status).toBe(200);
    await until(() => h.nubabel.delegations.length === 1, 5_000, "the genuine request");
    expect(h.nubabel.delegations.map((d) => d.prompt)).toEqual(["pwn"]);
  });

  it("keeps its raw-body parsing to its own route: the app's other JSON routes still parse", async () => {
    const res = await fetch(`${h.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    expect(await res.json()).toEqual({ parsed: { a: 1 } });
  });

  it("answers url_verification with the challenge (signed, like every Slack request)", async () => {
    const res = await h.post({ type: "url_verification", token: "x", challenge: "c-123" });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ challenge: "c-123" });
    expect((await h.post({ type: "url_verification", challenge: "c-123" }, { secret: "wrong" })).status).toBe(401);
  });

  it("acknowledges at once even when the task takes long", async () => {
    h.nubabel.script = async (turn) => {
      await new Promise((r) => setTimeout(r, 3_500));
      return response(turn, "slow answer");
    };
    const event = mention("take your time");
    const started = Date.now();
    const { status } = await h.deliver(event);
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);
    await until(() => h.slack.thread(CHANNEL, event.ts as string).some((m) => m.text === "slow answer"), 8_000, "the slow answer");
  });

  it("gives an unlinked workspace one polite reply in the thread and delegates nothing", async () => {
    h.links.unlink("T0000LINKED");
    const event = mention("summarize my tasks");
    await h.deliver(event);
    const reply = await until(() => h.slack.thread(CHANNEL, event.ts as string)[0], 5_000, "the polite reply");
    expect(reply.text).toContain("isn't connected to a Nubabel organization");
    expect(reply.text).toContain("nubabel org link-slack --org <organization id> --team T0000LINKED");
    await new Promise((r) => setTimeout(r, 200));
    expect(h.slack.thread(CHANNEL, event.ts as string)).toHaveLength(1);
    expect(h.nubabel.delegations).toHaveLength(0);
  });

  it("greets an empty mention instead of running an empty prompt", async () => {
    const event: Record<string, unknown> = { ...mention(""), text: "<@UBOT000001>" };
    await h.deliver(event);
    const reply = await until(() => h.slack.thread(CHANNEL, event.ts as string)[0], 5_000, "the greeting");
    expect(reply.text).toContain("Mention me with what you need");
    expect(h.nubabel.delegations).toHaveLength(0);
  });
});
