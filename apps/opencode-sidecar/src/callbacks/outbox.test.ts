import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { CallbackReceiver } from "../../test/receiver.js";
import { CallbackClient } from "./client.js";
import { Outbox } from "./outbox.js";

describe("Outbox", () => {
  const secret = Webhooks.generateSecret();
  let receiver: CallbackReceiver;
  beforeAll(async () => {
    receiver = await CallbackReceiver.start(secret);
  });
  afterAll(() => receiver.close());
  const outbox = () => new Outbox(new CallbackClient({ secret, timeoutMs: 1_000, retries: 0 }), pino({ level: "silent" }), { initialDelayMs: 20, maxDelayMs: 100 });
  const url = () => `${receiver.url}/api/sidecar/sessions/s/result`;

  it("retries until acknowledged, with one webhook-id", async () => {
    receiver.reset();
    receiver.failResultsNext = 5;
    expect(await outbox().deliver({ url: url(), body: { runId: "run_1" }, token: "tok", label: "t" })).toBe(true);
    const deliveries = receiver.results("run_1");
    expect(deliveries).toHaveLength(6);
    expect(new Set(deliveries.map((d) => d.webhookId)).size).toBe(1);
    expect(deliveries.every((d) => d.token === "tok" && d.signatureError === undefined)).toBe(true);
  });

  it("stops at a 4xx", async () => {
    receiver.reset();
    receiver.resultStatus = 409;
    expect(await outbox().deliver({ url: url(), body: { runId: "run_2" }, label: "t" })).toBe(false);
    expect(receiver.results("run_2")).toHaveLength(1);
  });

  it("close() waits a bounded time, then abandons", async () => {
    receiver.reset();
    const box = outbox();
    const delivery = box.deliver({ url: "http://127.0.0.1:9/nowhere", body: {}, label: "t" });
    const started = Date.now();
    await box.close(200);
    expect(await delivery).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
