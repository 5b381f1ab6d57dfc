import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiRun } from "@nubabel/contracts";
import { runCli } from "../../src/cli/main.js";
import { backendEnv, tempDir } from "../fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "../fixtures/real-sidecar.js";
import { everything } from "../mcp/servers.js";
import { buttonsOf, startFakeSlackApi, type FakeSlackApi, type StoredMessage } from "./fake-slack-api.js";
import { buttonPress, CHANNEL, deliverTo, mention, signatureHeaders, until, USER } from "./harness.js";

const SIGNING_SECRET = "slack-signing-secret-approvals-e2e";
const TEAM = "T0APPROVE01";
const STRANGER = "U0STRANGER1";

/**
 * Issue 14's Slack acceptance on real parts: Nubabel (PostgreSQL + Redis) with its Slack bot, the
 * fake Slack Web API, the real sidecar and engine with the scripted model, and the registry's
 * `everything` MCP server. A mention whose tool call the policy covers posts Approve/Deny in the
 * thread; a stranger's press is refused ephemerally; the requester's press approves, the message
 * then says who and when, and the run's answer reaches the thread.
 */
describe("approvals in Slack, end to end (real sidecar and engine, PostgreSQL, fake Slack Web API)", () => {
  const secrets = testSecrets();
  const data = tempDir("slack-approvals");
  let slack: FakeSlackApi;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let apiKey: string;

  const press = async (payload: Record<string, unknown>) => {
    const raw = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const res = await fetch(`${nubabel.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...signatureHeaders(raw, Math.floor(Date.now() / 1000), SIGNING_SECRET) },
      body: raw,
    });
    return res.status;
  };
  const approvalMessage = (threadTs: string) => slack.thread(CHANNEL, threadTs).find((m) => buttonsOf(m).includes("approval_approve"));

  beforeAll(async () => {
    slack = await startFakeSlackApi(TEAM);
    backend = await backendEnv("shared");
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
    const catalog = path.join(data.dir, "catalog.json");
    writeFileSync(catalog, JSON.stringify({ providers: { everything: { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] } } }));
    const env = {
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_URL: real.sidecar.url,
      NUBABEL_MCP_CATALOG: catalog,
      SLACK_BOT_TOKEN: "xoxb-approvals-e2e",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.url,
      SLACK_UPDATE_INTERVAL_MS: "100",
      // Short, so a message Slack refused is posted again within the test (30 s and 20 s by default).
      SLACK_APPROVAL_RECOVERY_MS: "500",
      SLACK_APPROVAL_GRACE_MS: "1000",
    };
    nubabel = await startTestNubabel(env);
    const org = await createOrganization(nubabel, "Slack approvals");
    apiKey = org.apiKey;
    const sink = { write: () => true } as never;
    expect(await runCli(["org", "link-slack", "--org", org.organizationId, "--team", TEAM], env, sink, sink)).toBe(0);
    expect((await nubabel.api("/api/connections", { apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: "slack-e2e-secret" } } })).status).toBe(201);
    expect((await nubabel.api("/api/policy", { method: "PUT", apiKey, body: { approvals: [{ match: "everything/echo" }] } })).status).toBe(200);
  }, 240_000);

  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await slack?.close();
    await backend?.cleanup();
    data.remove();
  });

  it("posts the approval with buttons; a stranger is refused; the requester's press approves and the message says who and when", async () => {
    real.model.script(
      { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "from slack" } } }] },
      { text: "Echoed, with your approval." },
    );
    const root = mention("echo something for me");
    expect(await deliverTo(nubabel.url, root, { team: TEAM, signingSecret: SIGNING_SECRET })).toBe(200);
    const threadTs = root.ts as string;
    const message = await until(() => approvalMessage(threadTs), 60_000, "the approval message");
    expect(buttonsOf(message)).toEqual(expect.arrayContaining(["approval_approve", "approval_deny"]));
    expect(JSON.stringify(message.blocks)).toContain("everything/echo");
    expect(JSON.stringify(message.blocks)).toContain("from slack");
    expect(JSON.stringify(message.blocks)).not.toContain("slack-e2e-secret");
    // The progress message carries Stop meanwhile, and the run waits.
    expect(slack.thread(CHANNEL, threadTs).some((m) => buttonsOf(m).includes("run_stop"))).toBe(true);
    const button = (message.blocks ?? []).flatMap((b: { elements?: Array<{ action_id: string; value?: string }> }) => b.elements ?? []).find((e) => e.action_id === "approval_approve")!;
    const { runId } = JSON.parse(button.value!) as { runId: string };
    const waiting = (await (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json()) as ApiRun;
    expect(waiting).toMatchObject({ status: "waiting_approval", approvals: [{ status: "pending", tool: "echo", provider: "everything" }] });

    // Someone the policy does not name: told so, privately; nothing decided.
    expect(await press(buttonPress(message, "approval_approve", { user: STRANGER, teamId: TEAM }))).toBe(200);
    await until(() => slack.ephemerals.find((e) => e.user === STRANGER), 10_000, "the ephemeral refusal");
    expect(slack.ephemerals.find((e) => e.user === STRANGER)!.text).toContain("not yours to approve");
    expect(buttonsOf(approvalMessage(threadTs) ?? message)).toContain("approval_approve");

    // The requester approves: the message says who and when, without buttons; the answer arrives.
    expect(await press(buttonPress(message, "approval_approve", { user: USER, teamId: TEAM }))).toBe(200);
    const decided = await until(
      () => slack.thread(CHANNEL, threadTs).find((m: StoredMessage) => m.ts === message.ts && /Approved\* by/.test(m.text + JSON.stringify(m.blocks ?? []))),
      10_000,
      "the decided message",
    );
    expect(buttonsOf(decided)).toEqual([]);
    expect(JSON.stringify(decided.blocks ?? []) + decided.text).toContain(`<@${USER}>`);
    // The progress message shows the draft first; the answer replaces it, without the Stop button.
    await until(() => slack.thread(CHANNEL, threadTs).some((m) => m.text.startsWith("Echoed, with your approval.") && buttonsOf(m).length === 0), 60_000, "the answer");
    expect(slack.thread(CHANNEL, threadTs).every((m) => !buttonsOf(m).includes("run_stop"))).toBe(true);
    const done = (await (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json()) as ApiRun;
    expect(done).toMatchObject({ status: "completed", approvals: [{ status: "approved", decidedBy: `slack:${USER}` }] });
    // The audit has the decision and the tool call, in that order.
    const audit = (await (await nubabel.api(`/api/audit?runId=${runId}`, { apiKey })).json()) as { entries: Array<{ kind: string; actor: string }> };
    expect(audit.entries.map((e) => `${e.kind}:${e.actor}`)).toEqual([`approval:slack:${USER}`, "tool_call:agent"]);
  }, 150_000);

  it("posts the approval message Slack refused once, on the next round of recovery, exactly once, and its press decides", async () => {
    const asksApproval = (args: Record<string, any>) => JSON.stringify(args.blocks ?? "").includes("approval_approve");
    slack.failPosts(asksApproval, 1);
    real.model.script(
      { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "after a refusal" } } }] },
      { text: "Echoed after all." },
    );
    const root = mention("echo again, even if Slack hiccups");
    expect(await deliverTo(nubabel.url, root, { team: TEAM, signingSecret: SIGNING_SECRET })).toBe(200);
    const threadTs = root.ts as string;
    const message = await until(() => approvalMessage(threadTs), 60_000, "the recovered approval message");
    expect(JSON.stringify(message.blocks)).toContain("after a refusal");
    // The refused post and the recovered one, and a few rounds later still only one message.
    const posts = () => slack.callsOf("chat.postMessage").filter((c) => c.args.thread_ts === threadTs && asksApproval(c.args));
    expect(posts()).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(posts()).toHaveLength(2);
    expect(slack.thread(CHANNEL, threadTs).filter((m) => buttonsOf(m).includes("approval_approve"))).toHaveLength(1);

    expect(await press(buttonPress(message, "approval_approve", { user: USER, teamId: TEAM }))).toBe(200);
    await until(() => slack.messages.get(message.ts) && /Approved\* by/.test(slack.messages.get(message.ts)!.text + JSON.stringify(slack.messages.get(message.ts)!.blocks ?? [])), 10_000, "the decided message");
    expect(buttonsOf(slack.messages.get(message.ts))).toEqual([]);
    await until(() => slack.thread(CHANNEL, threadTs).some((m) => m.text.startsWith("Echoed after all.")), 60_000, "the answer");
  }, 150_000);
});
