import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelServer } from "@nubabel/testkit";
import { runCli } from "../../src/cli/main.js";
import { backendEnv } from "../fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "../fixtures/real-sidecar.js";
import { BOT_USER_ID, startFakeSlackApi, type FakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, mention, signatureHeaders, threadMessage, until, USER } from "./harness.js";

const SIGNING_SECRET = "slack-signing-secret-for-app-tests";
const TEAM = "T0APPTEST1";

/**
 * The Slack bot as `startNubabel` wires it: linked with the CLI, events signed like Slack's, the
 * answer produced by the real sidecar and engine, and the thread surviving a Nubabel restart.
 */
for (const kind of ["shared", "embedded"] as const) describe(`Slack bot inside Nubabel (${kind})`, () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let stack: RealSidecar;
  let model: ModelServer;
  let slack: FakeSlackApi;
  let nubabel: TestNubabel;
  let env: Record<string, string>;

  beforeAll(async () => {
    backend = await backendEnv(kind);
    stack = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
    model = stack.model;
    slack = await startFakeSlackApi(TEAM);
    env = {
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(stack.nubabelPort),
      SIDECAR_URL: stack.sidecar.url,
      SLACK_BOT_TOKEN: "xoxb-app-test",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      SLACK_UPDATE_INTERVAL_MS: "100",
    };
    nubabel = await startTestNubabel(env);
  });
  afterAll(async () => {
    await nubabel?.close();
    await stack?.close();
    await slack?.close();
    await backend?.cleanup();
  });

  const deliver = async (event: Record<string, unknown>, team = TEAM) => {
    const body = JSON.stringify({
      type: "event_callback",
      team_id: team,
      api_app_id: "A0APP",
      event_id: `Ev${randomUUID().replace(/-/g, "").slice(0, 12)}`,
      event_time: Math.floor(Date.now() / 1000),
      event,
      authorizations: [{ team_id: team, user_id: BOT_USER_ID, is_bot: true }],
    });
    const res = await fetch(`${nubabel.url}/slack/events`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...signatureHeaders(body, Math.floor(Date.now() / 1000), SIGNING_SECRET) },
    });
    return res.status;
  };
  const threadTexts = (threadTs: string) => [...slack.messages.values()].filter((m) => m.threadTs === threadTs || m.ts === threadTs).map((m) => m.text);

  it("an unlinked workspace gets a polite reply, and nothing runs", async () => {
    const start = mention("hello?");
    expect(await deliver(start)).toBe(200);
    await until(() => threadTexts(start.ts as string).length > 0, 10_000, "the polite reply");
    expect(threadTexts(start.ts as string).join(" ")).toMatch(/link-slack/);
    expect(model.requests).toHaveLength(0);
  });

  it("links with the CLI, answers a mention in its thread, and resumes the thread after a restart", async () => {
    const { organizationId } = await createOrganization(nubabel, "Acme");
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as never;
    expect(await runCli(["org", "link-slack", "--org", organizationId, "--team", TEAM], env, sink, sink)).toBe(0);
    expect(JSON.parse(out.join(""))).toEqual({ teamId: TEAM, organizationId });

    model.script({ text: "You have **5** tasks." }, { text: "2 of them are urgent." });
    const start = mention("Summarize my Notion tasks");
    expect(await deliver(start)).toBe(200);
    const threadTs = start.ts as string;
    await until(() => threadTexts(threadTs).some((t) => /^You have \*5\* tasks\.$/.test(t)), 30_000, "the answer in the thread");
    // One message in the thread: posted as progress, then edited in place into the answer (Markdown
    // bold becomes Slack's mrkdwn bold).
    const inThread = slack.thread(CHANNEL, threadTs);
    expect(inThread).toHaveLength(1);
    expect(inThread[0]!.text).toBe("You have *5* tasks.");
    const posted = slack.callsOf("chat.postMessage").find((c) => c.args.thread_ts === threadTs);
    expect(posted?.args.text).not.toContain("5 tasks");
    expect(slack.callsOf("chat.update").filter((c) => c.args.ts === inThread[0]!.ts).length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(model.requests[0]!.messages)).toContain("Summarize my Notion tasks");
    expect(JSON.stringify(model.requests[0]!.messages)).not.toContain(BOT_USER_ID);

    await nubabel.close();
    nubabel = await startTestNubabel(env);

    expect(await deliver(threadMessage(threadTs, "How many are urgent?", { user: USER, channel: CHANNEL }))).toBe(200);
    await until(() => threadTexts(threadTs).includes("2 of them are urgent."), 30_000, "the follow-up answer");
    const followUp = JSON.stringify(model.requests.at(-1)!.messages);
    expect(followUp).toContain("Summarize my Notion tasks");
    expect(followUp).toContain("You have **5** tasks.");
  });

  it("reports the bot in /health", async () => {
    const health = (await (await nubabel.api("/health")).json()) as { slack?: { ok: boolean; mode: string; botUserId?: string } };
    expect(health.slack).toEqual({ ok: true, mode: "http", botUserId: BOT_USER_ID });
  });

  it("refuses a badly signed event with 401", async () => {
    const body = JSON.stringify({ type: "event_callback", team_id: TEAM, event: mention("x") });
    const res = await fetch(`${nubabel.url}/slack/events`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...signatureHeaders(body, Math.floor(Date.now() / 1000), "wrong-secret") },
    });
    expect(res.status).toBe(401);
  });
});
