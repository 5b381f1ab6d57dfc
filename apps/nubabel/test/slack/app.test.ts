import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModelServer, Scrape } from "@nubabel/testkit";
import { runCli } from "../../src/cli/main.js";
import { backendEnv } from "../fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "../fixtures/real-sidecar.js";
import { BOT_USER_ID, startFakeSlackApi, type FakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, deliverTo, mention, signatureHeaders, threadMessage, until, USER } from "./harness.js";

const SIGNING_SECRET = "slack-signing-secret-for-app-tests";
const TEAM = "T0APPTEST1";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/** The runs Nubabel accepted, read off its log lines ("run accepted" carries the run and session ids). */
function acceptedRuns(lines: string[]): Array<{ runId: string; sessionId: string }> {
  return lines
    .flatMap((line) => line.split("\n"))
    .filter((line) => line.includes('"run accepted"'))
    .map((line) => JSON.parse(line) as { runId: string; sessionId: string });
}

/** Nubabel as its own process (`src/main.ts`, as `npm run nubabel` runs it), so a test can SIGKILL it. */
async function spawnNubabel(env: Record<string, string>, lines: string[]): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "apps/nubabel/src/main.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    lines.push(chunk.toString());
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await until(() => output.includes('"nubabel listening"') || child.exitCode !== null, 60_000, "the nubabel process to listen");
  if (child.exitCode !== null) throw new Error(`nubabel exited at start:\n${output}`);
  return { child, exited };
}

const METRICS_TOKEN = "slack-test-metrics-token-0123";

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
  let apiKey: string;
  /** Nubabel's log lines (at `info`), for the ids of the runs it accepted. */
  const logs: string[] = [];
  const startInProcess = () => startTestNubabel({ ...env, LOG_LEVEL: "info" }, { logDestination: { write: (line) => void logs.push(line) } });

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
      METRICS_TOKEN: METRICS_TOKEN,
    };
    nubabel = await startInProcess();
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

  it("an unlinked workspace gets a polite reply, and nothing runs; the calls and a rate-limit wait are counted", async () => {
    slack.rateLimit("chat.postMessage", 1, 1);
    const start = mention("hello?");
    expect(await deliver(start)).toBe(200);
    await until(() => threadTexts(start.ts as string).length > 0, 10_000, "the polite reply");
    expect(threadTexts(start.ts as string).join(" ")).toMatch(/link-slack/);
    expect(model.requests).toHaveLength(0);
    const scrape = Scrape.parse(await (await nubabel.api("/metrics", { apiKey: METRICS_TOKEN })).text());
    expect(scrape.value("nubabel_slack_api_calls_total", { method: "chat.postMessage", outcome: "ok" })).toBe(1);
    expect(scrape.value("nubabel_slack_rate_limited_total", { method: "chat.postMessage" })).toBe(1);
    expect(scrape.value("nubabel_slack_rate_limit_wait_seconds_total", { method: "chat.postMessage" })).toBe(1);
  });

  it("links with the CLI, answers a mention in its thread, and resumes the thread after a restart", async () => {
    const created = await createOrganization(nubabel, "Acme");
    const { organizationId } = created;
    apiKey = created.apiKey;
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as never;
    expect(await runCli(["org", "link-slack", "--org", organizationId, "--team", TEAM], env, sink, sink)).toBe(0);
    expect(JSON.parse(out.join(""))).toEqual({ teamId: TEAM, organizationId });

    model.script({ text: "You have **5** tasks." }, { text: "2 of them are urgent." });
    const start = mention("Summarize my Notion tasks");
    expect(await deliver(start)).toBe(200);
    const threadTs = start.ts as string;
    await until(() => threadTexts(threadTs).some((t) => /^You have \*5\* tasks\.$/.test(t)), 60_000, "the answer in the thread");
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
    nubabel = await startInProcess();

    expect(await deliver(threadMessage(threadTs, "How many are urgent?", { user: USER, channel: CHANNEL }))).toBe(200);
    await until(() => threadTexts(threadTs).includes("2 of them are urgent."), 30_000, "the follow-up answer");
    const followUp = JSON.stringify(model.requests.at(-1)!.messages);
    expect(followUp).toContain("Summarize my Notion tasks");
    expect(followUp).toContain("You have **5** tasks.");
  }, 150_000);

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

  it("stops a thread's first turn one second in: the run is aborted within 3 s, the model asked no more, the thread says so", async () => {
    model.script({ text: "This answer comes too late.", delayMs: 5_000 });
    const asked = model.requests.length;
    const start = mention("Take your time with this one");
    const threadTs = start.ts as string;
    const sentAt = Date.now();
    expect(await deliver(start)).toBe(200);
    await until(() => model.requests.length > asked, 10_000, "the model to be asked");
    const run = await until(() => acceptedRuns(logs).at(-1), 5_000, "the run");
    await new Promise((r) => setTimeout(r, Math.max(0, sentAt + 1_000 - Date.now())));
    const stopAt = Date.now();
    expect(await deliver(threadMessage(threadTs, "stop", { user: USER, channel: CHANNEL }))).toBe(200);

    let ended: { status: string; finishedAt?: string } | undefined;
    while (!ended && Date.now() - stopAt < 3_000) {
      const body = (await (await nubabel.api(`/api/runs/${run.runId}`, { apiKey })).json()) as { status: string; finishedAt?: string };
      if (body.status === "aborted") ended = body;
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(ended, "the run aborted within 3 s").toBeDefined();
    expect(new Date(ended!.finishedAt!).getTime() - stopAt).toBeLessThan(3_000);
    await until(() => threadTexts(threadTs).some((t) => t.includes("Stopped before finishing")), 3_000, "the thread to say it stopped");
    expect(threadTexts(threadTs).some((t) => t.includes("Stopping the running task"))).toBe(true);
    const requests = model.requests.length;
    // Past the scripted delay: an engine still running the turn would ask again after it.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(model.requests.length).toBe(requests);
    expect(threadTexts(threadTs).some((t) => t.includes("comes too late"))).toBe(false);
  }, 30_000);

  it("answers the thread exactly once when Nubabel is SIGKILLed mid-turn and started again on the same database", async () => {
    // Its own process now, on the same port (the sidecar calls back there) and database.
    await nubabel.close();
    const childEnv = { ...env, RUN_RECONCILE_INTERVAL_MS: "1000" };
    const lines: string[] = [];
    const first = await spawnNubabel(childEnv, lines);
    const url = `http://127.0.0.1:${stack.nubabelPort}`;
    let second: Awaited<ReturnType<typeof spawnNubabel>> | undefined;
    try {
      model.script({ text: "The answer survived the crash.", delayMs: 4_000 });
      const asked = model.requests.length;
      const start = mention("Work on this while I restart you");
      const threadTs = start.ts as string;
      expect(await deliverTo(url, start, { team: TEAM, signingSecret: SIGNING_SECRET })).toBe(200);
      await until(() => model.requests.length > asked, 15_000, "the model to be asked");
      const progress = await until(() => slack.thread(CHANNEL, threadTs)[0], 5_000, "the progress message");
      // The progress message's ts is stored in the run right after it is posted.
      await new Promise((r) => setTimeout(r, 500));
      first.child.kill("SIGKILL");
      await first.exited;

      second = await spawnNubabel(childEnv, lines);
      await until(() => threadTexts(threadTs).includes("The answer survived the crash."), 60_000, "the answer after the restart");
      // Reconciliation runs every second here: give it a few passes to (wrongly) deliver again.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(slack.thread(CHANNEL, threadTs)).toEqual([expect.objectContaining({ ts: progress.ts, text: "The answer survived the crash." })]);
      const answers = slack.calls.filter((c) => (c.method === "chat.update" || c.method === "chat.postMessage") && c.args.text === "The answer survived the crash.");
      expect(answers).toHaveLength(1);

      const { sessionId } = acceptedRuns(lines).at(-1)!;
      const session = (await (await fetch(`${url}/api/sessions/${sessionId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as {
        messages: Array<{ role: string; content: string }>;
      };
      expect(session.messages.filter((m) => m.content === "The answer survived the crash.")).toHaveLength(1);
      expect(session.messages.filter((m) => m.role === "user")).toHaveLength(1);
    } finally {
      for (const proc of [first, second]) if (proc && proc.child.exitCode === null) proc.child.kill("SIGTERM");
      await Promise.all([first.exited, second?.exited]);
    }
  }, 120_000);
});
