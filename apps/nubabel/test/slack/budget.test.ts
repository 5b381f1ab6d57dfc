import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { backendEnv, hasInfra } from "../fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "../fixtures/real-sidecar.js";
import { startFakeSlackApi, type FakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, deliverTo, mention, threadMessage, until, USER } from "./harness.js";

const SIGNING_SECRET = "slack-signing-secret-budget";
const TEAM = "T0BUDGET001";

/**
 * Issue 15's Slack acceptance on real parts: with a tiny monthly budget, the mention after the cap
 * is crossed is answered in its thread with the reason and the reset day, nothing runs; raising the
 * budget lets the next mention through.
 */
describe(`a spent budget in Slack (real sidecar and engine, ${hasInfra ? "PostgreSQL + Redis" : "PGlite"}, fake Slack Web API)`, () => {
  const secrets = testSecrets();
  let slack: FakeSlackApi;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let apiKey: string;

  beforeAll(async () => {
    slack = await startFakeSlackApi(TEAM);
    backend = await backendEnv("shared");
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, { MODEL_COST_INPUT: "3", MODEL_COST_OUTPUT: "15" });
    const env = {
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_URL: real.sidecar.url,
      SLACK_BOT_TOKEN: "xoxb-budget",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      SLACK_UPDATE_INTERVAL_MS: "100",
    };
    nubabel = await startTestNubabel(env);
    const org = await createOrganization(nubabel, "Slack budget");
    apiKey = org.apiKey;
    const sink = { write: () => true } as never;
    expect(await runCli(["org", "link-slack", "--org", org.organizationId, "--team", TEAM], env, sink, sink)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await slack?.close();
    await backend?.cleanup();
  });

  const deliver = (event: Record<string, unknown>) => deliverTo(nubabel.url, event, { team: TEAM, signingSecret: SIGNING_SECRET });
  const texts = (threadTs: string) => slack.thread(CHANNEL, threadTs).map((m) => m.text);
  const setBudget = async (monthlyCost: number) =>
    expect((await nubabel.api("/api/budget", { method: "PUT", apiKey, body: { monthlyCost } })).status).toBe(200);

  it("says in the thread that the monthly budget is spent and when it resets; a raised budget lets the next mention run", async () => {
    real.model.respond(() => ({ text: "Here is your answer." }));
    await setBudget(0.000001);
    const first = mention("first question");
    expect(await deliver(first)).toBe(200);
    await until(() => texts(first.ts as string).includes("Here is your answer."), 30_000, "the first answer");

    // That run crossed the cap: the next mention, and a follow-up in the first thread, are refused.
    const calls = real.model.requests.length;
    const second = mention("second question");
    await deliver(second);
    const refusal = await until(() => texts(second.ts as string).find((t) => t.includes("monthly budget")), 10_000, "the budget reply");
    const reset = new Date();
    const day = new Date(Date.UTC(reset.getUTCFullYear(), reset.getUTCMonth() + 1, 1)).toLocaleDateString("en", { timeZone: "UTC", month: "long", day: "numeric", year: "numeric" });
    expect(refusal).toContain("reached its monthly budget");
    expect(refusal).toContain("of 0.000001 USD spent");
    expect(refusal).toContain(`resets on ${day} (UTC)`);
    await deliver(threadMessage(first.ts as string, "one more thing"));
    await until(() => texts(first.ts as string).some((t) => t.includes("monthly budget")), 10_000, "the follow-up's budget reply");
    expect(real.model.requests.length).toBe(calls);

    await setBudget(1);
    const third = mention("third question");
    await deliver(third);
    await until(() => texts(third.ts as string).includes("Here is your answer."), 30_000, "the answer once the budget is raised");
    // The usage is the Slack user's.
    const byUser = (await (await nubabel.api("/api/usage?groupBy=user", { apiKey })).json()) as { rows: Array<{ key: string; runs: number }> };
    expect(byUser.rows).toEqual([expect.objectContaining({ key: `slack:${TEAM}:${USER}`, runs: 2 })]);
  }, 120_000);
});
