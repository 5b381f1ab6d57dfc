import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { backendEnv } from "../fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "../fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { startFakeSlackApi, type FakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, deliverTo, mention, threadMessage, until } from "./harness.js";

const SIGNING_SECRET = "slack-signing-secret-core-wiring";
const TEAM = "T0CORE0001";

/**
 * The Slack bot over Nubabel's real runs, as `main.ts` wires it (PGlite, `Runs`, the sidecar
 * client, the result callback endpoint), with the fake sidecar (its turns answer with the context
 * they resumed) and the fake Slack Web API: proof the port fits the core.
 */
describe("the Slack bot over Nubabel's runs (PGlite, fake sidecar)", () => {
  const secrets = testSecrets();
  let slack: FakeSlackApi;
  const cleanups: Array<() => Promise<void>> = [];
  const shutdowns: Array<() => Promise<void>> = [];
  /**
   * One instance for the tests that run turns (a PGlite start costs seconds): one running turn and
   * one waiting per organization, so the queue test sees both limits; the other tests run one turn
   * at a time and never meet them.
   */
  let shared: Awaited<ReturnType<typeof boot>>;

  beforeAll(async () => {
    slack = await startFakeSlackApi(TEAM);
    shared = await boot({ ORG_MAX_RUNNING: "1", ORG_MAX_QUEUED: "1" }, { turnDelayMs: 2_500 });
    shutdowns.push(...cleanups.splice(0));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    for (const cleanup of shutdowns.reverse()) await cleanup();
    await slack?.close();
  });

  /** A Nubabel on a fresh embedded database, its workspace linked to a new organization. */
  const boot = async (env: Record<string, string>, sidecar?: { turnDelayMs?: number }) => {
    const fake: FakeSidecar | undefined = sidecar ? await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, ...sidecar }) : undefined;
    if (fake) cleanups.push(() => fake.close());
    const backend = await backendEnv("embedded");
    cleanups.push(() => backend.cleanup());
    const full = {
      ...backend.env,
      ...secrets,
      SIDECAR_URL: fake?.url ?? "http://127.0.0.1:9",
      SLACK_BOT_TOKEN: "xoxb-core-wiring",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      SLACK_UPDATE_INTERVAL_MS: "100",
      ...env,
    };
    const nubabel: TestNubabel = await startTestNubabel(full);
    cleanups.push(() => nubabel.close());
    const { organizationId } = await createOrganization(nubabel, "Acme");
    const sink = { write: () => true } as never;
    expect(await runCli(["org", "link-slack", "--org", organizationId, "--team", TEAM], full, sink, sink)).toBe(0);
    const deliver = (event: Record<string, unknown>) => deliverTo(nubabel.url, event, { team: TEAM, signingSecret: SIGNING_SECRET });
    const texts = (threadTs: string) => slack.thread(CHANNEL, threadTs).map((m) => m.text);
    return { nubabel, sidecar: fake, deliver, texts };
  };

  it("resumes the thread's OpenCode session on a follow-up: the earlier turn's context reaches the agent", async () => {
    const { sidecar, deliver, texts } = shared;
    const root = mention("remember the number 42");
    expect(await deliver(root)).toBe(200);
    await until(() => texts(root.ts as string).some((t) => t.startsWith("turn 1 of")), 10_000, "first answer");
    await deliver(threadMessage(root.ts as string, "which number?"));
    const second = await until(() => texts(root.ts as string).find((t) => t.startsWith("turn 2 of")), 10_000, "second answer");
    expect(second).toContain("which number? (earlier: remember the number 42)");
    expect(sidecar!.received.map((r) => r.kind)).toEqual(["delegate", "prompt"]);
    sidecar!.received.length = 0;
    // Each progress message became its answer: two messages, no leftovers.
    expect(texts(root.ts as string)).toHaveLength(2);
  });

  it("stops a thread's first turn one second in: the abort reaches the sidecar and the thread says it stopped", async () => {
    const { sidecar, deliver, texts } = shared;
    const root = mention("a long first job");
    await deliver(root);
    await until(() => sidecar!.received.some((r) => r.kind === "delegate"), 5_000, "the run on the sidecar");
    await new Promise((r) => setTimeout(r, 1_000));
    const stopped = Date.now();
    await deliver(threadMessage(root.ts as string, "stop"));
    await until(() => texts(root.ts as string).some((t) => t.includes("Stopped before finishing")), 3_000, "the stopped answer");
    expect(Date.now() - stopped).toBeLessThan(3_000);
    expect(texts(root.ts as string).some((t) => t.includes("Stopping the running task"))).toBe(true);
    expect(sidecar!.received.map((r) => r.kind)).toEqual(["delegate", "abort"]);
    sidecar!.received.length = 0;
  });

  it("shows a queued run's place in line (ORG_MAX_RUNNING=1), then answers it; a full queue is said plainly", async () => {
    const { deliver, texts } = shared;
    const a = mention("first");
    await deliver(a);
    await until(() => texts(a.ts as string).length === 1, 5_000, "the first progress message");
    const b = mention("second");
    await deliver(b);
    await until(() => texts(b.ts as string).some((t) => t.includes("number 1 in line")), 5_000, "the place in line");
    const c = mention("third");
    await deliver(c);
    await until(() => texts(c.ts as string).some((t) => t.includes("requests running or waiting, as many as it may")), 5_000, "the full queue");
    await until(() => texts(b.ts as string).some((t) => t.startsWith("turn 1 of") && t.includes("second")), 10_000, "the queued run's answer");
    expect(texts(b.ts as string)).toHaveLength(1);
  });

  it("says the worker is unreachable within seconds when the sidecar is down", async () => {
    // Nothing listens on port 9: the real client's connection is refused.
    const { deliver, texts } = await boot({});
    const root = mention("anything");
    const started = Date.now();
    await deliver(root);
    await until(() => texts(root.ts as string).some((t) => t.includes("can't reach my worker")), 5_000, "outage message");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
