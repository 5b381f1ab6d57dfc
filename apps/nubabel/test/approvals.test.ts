import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Capabilities, Webhooks, type ApiPolicy, type ApiRun, type StreamEvent } from "@nubabel/contracts";
import { backendEnv, tempDir } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { poll } from "./fixtures/poll.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";
import { openSse } from "./fixtures/sse-client.js";
import { everything } from "./mcp/servers.js";

/**
 * Issue 14 on real parts: Nubabel on PostgreSQL and Redis, the real sidecar and OpenCode engine
 * with the scripted model, and the registry's `everything` MCP server. A tool call under the
 * organization's policy waits for a decision taken through the API (Slack's buttons have their
 * own suite); approved it runs, denied or expired the agent reads why and goes on.
 */

const SECRET_TOKEN = "ev-approvals-secret-4f1c";

async function catalogWithEverything(dir: string): Promise<string> {
  const file = path.join(dir, "catalog.json");
  const server = { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] };
  writeFileSync(file, JSON.stringify({ providers: { everything: server } }));
  return file;
}

/** Every tool result the model was sent, as text. */
function toolResults(real: RealSidecar): string[] {
  return real.model.requests
    .filter((r) => !r.auxiliary)
    .flatMap((r) => r.messages as Array<{ role: string; content?: unknown }>)
    .filter((m) => m.role === "tool")
    .map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content)));
}

describe("approvals on the real engine, an MCP server from the registry and PostgreSQL", () => {
  const secrets = testSecrets();
  const data = tempDir("approvals");
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let env: Record<string, string>;
  let a: { organizationId: string; apiKey: string };
  let b: { organizationId: string; apiKey: string };

  const run = async (runId: string, apiKey = a.apiKey) => (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json() as Promise<ApiRun>;
  const start = async (prompt: string, sessionId?: string) => {
    const res = await nubabel.api("/api/delegate", { apiKey: a.apiKey, body: { prompt, ...(sessionId ? { sessionId } : {}) }, headers: { prefer: "respond-async" } });
    expect(res.status).toBe(202);
    return (await res.json()) as { runId: string; sessionId: string };
  };
  const waiting = (runId: string) => poll(() => run(runId), (r) => r.status === "waiting_approval");
  const finished = (runId: string) => poll(() => run(runId), (r) => ["completed", "failed", "aborted"].includes(r.status), 60_000);
  const decide = (runId: string, approvalId: string, body: unknown, apiKey = a.apiKey) =>
    nubabel.api(`/api/runs/${runId}/approvals/${approvalId}`, { apiKey, body });
  const setPolicy = async (policy: unknown) => {
    const res = await nubabel.api("/api/policy", { method: "PUT", apiKey: a.apiKey, body: policy });
    expect(res.status).toBe(200);
    return (await res.json()) as ApiPolicy;
  };
  const echoCall = (message: string) => ({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message, token: SECRET_TOKEN } } }] });

  beforeAll(async () => {
    backend = await backendEnv("shared");
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
    env = {
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_URL: real.sidecar.url,
      NUBABEL_MCP_CATALOG: await catalogWithEverything(data.dir),
      APPROVAL_SWEEP_MS: "250",
    };
    nubabel = await startTestNubabel(env);
    a = await createOrganization(nubabel, "Approvals A");
    b = await createOrganization(nubabel, "Approvals B");
    const created = await nubabel.api("/api/connections", { apiKey: a.apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: SECRET_TOKEN } } });
    expect(created.status).toBe(201);
  }, 240_000);

  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await backend?.cleanup();
    data.remove();
  });

  beforeEach(() => real.model.reset());

  describe("the policy", () => {
    it("asks for nothing by default", async () => {
      const res = await nubabel.api("/api/policy", { apiKey: b.apiKey });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ approvals: [], timeoutSeconds: 600, version: 0, updatedAt: null });
    });

    it.each([
      [{ approvals: [{ match: "rm -rf" }] }, "approvals.0.match"],
      [{ approvals: [{ match: "notion/create/page" }] }, "approvals.0.match"],
      [{ approvals: [{ match: "bash", approvers: "everyone" }] }, "approvals.0.approvers"],
      [{ approvals: [{ match: "bash", approvers: ["not-a-user"] }] }, "approvals.0.approvers"],
      [{ approvals: [], timeoutSeconds: 0 }, "timeoutSeconds"],
      [{ approvals: [], extra: true }, "extra"],
      [{}, "approvals"],
    ])("refuses %j with a 400 naming %s", async (body, field) => {
      const res = await nubabel.api("/api/policy", { method: "PUT", apiKey: a.apiKey, body });
      expect(res.status).toBe(400);
      const error = ((await res.json()) as { error: { code: string; message: string; details: { fields: string[] } } }).error;
      expect(error.code).toBe("invalid_request");
      // The field, or the array holding the bad entry; an unknown key is named itself.
      expect(`${error.details.fields.join(" ")} ${error.message}`).toContain(field);
    });

    it("says what approvers may be", async () => {
      const res = await nubabel.api("/api/policy", { method: "PUT", apiKey: a.apiKey, body: { approvals: [{ match: "bash", approvers: "everyone" }] } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        'invalid body: approvals.0.approvers: must be "requester", "workspace" or a list of Slack user ids (U… or W…)',
      );
    });

    it("keeps every version, and one organization's policy is not another's", async () => {
      const first = await setPolicy({ approvals: [{ match: "github/*" }] });
      const second = await setPolicy({ approvals: [{ match: "everything/echo", approvers: "workspace" }], timeoutSeconds: 120 });
      expect(second.version).toBe(first.version + 1);
      expect(await (await nubabel.api("/api/policy", { apiKey: a.apiKey })).json()).toMatchObject({ approvals: [{ match: "everything/echo", approvers: "workspace" }], timeoutSeconds: 120, version: second.version });
      expect(await (await nubabel.api("/api/policy", { apiKey: b.apiKey })).json()).toMatchObject({ approvals: [], version: 0 });
      expect((await nubabel.api("/api/policy")).status).toBe(401);
    });
  });

  it("an approved MCP call waits for the decision, then runs, and the run completes", async () => {
    await setPolicy({ approvals: [{ match: "everything/echo" }] });
    real.model.script(echoCall("approve me"), { text: "echoed after approval" });
    const { runId, sessionId } = await start("echo it once approved");
    const stream = await openSse(`${nubabel.url}/api/sidecar/sessions/${encodeURIComponent(sessionId)}/stream`, { authorization: `Bearer ${a.apiKey}` });
    try {
      const view = await waiting(runId);
      const approval = view.approvals![0]!;
      expect(JSON.stringify(view)).not.toContain(SECRET_TOKEN);
      // The session's run list says so too.
      const listed = (await (await nubabel.api(`/api/sessions/${encodeURIComponent(sessionId)}/runs`, { apiKey: a.apiKey })).json()) as { runs: ApiRun[] };
      expect(listed.runs.find((r) => r.id === runId)?.status).toBe("waiting_approval");
      expect(approval).toMatchObject({ runId, sessionId, tool: "echo", provider: "everything", status: "pending", arguments: { message: "approve me", token: "[redacted]" } });
      expect(Date.parse(approval.expiresAt) - Date.parse(approval.requestedAt)).toBe(600_000);
      await stream.until((s) => s.events.some((e) => e.type === "approval_requested"));
      // Waiting: the tool has not run, the model was not asked again.
      expect(toolResults(real)).toEqual([]);

      // Another organization can neither see nor decide it.
      expect((await nubabel.api(`/api/runs/${runId}`, { apiKey: b.apiKey })).status).toBe(404);
      expect((await decide(runId, approval.id, { decision: "approve" }, b.apiKey)).status).toBe(404);
      expect((await decide(runId, "apr_doesnotexist", { decision: "approve" })).status).toBe(404);
      expect((await decide(runId, approval.id, { decision: "maybe" })).status).toBe(400);

      const res = await decide(runId, approval.id, { decision: "approve", reason: "fine" });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: approval.id, status: "approved", decidedBy: "api", reason: "fine" });
      const again = await decide(runId, approval.id, { decision: "deny" });
      expect(again.status).toBe(409);
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe("approval_decided");

      const done = await finished(runId);
      expect(done).toMatchObject({ status: "completed", output: "echoed after approval" });
      expect(done.approvals).toHaveLength(1);
      expect(toolResults(real).join("\n")).toContain("approve me");
      await stream.until((s) => s.events.some((e) => e.type === "approval_resolved"));
      const types = stream.events.filter((e) => e.runId === runId).map((e) => e.type);
      expect(types.indexOf("approval_requested")).toBeLessThan(types.indexOf("approval_resolved"));
      expect(JSON.stringify(stream.events)).not.toContain(SECRET_TOKEN);
      const resolved = stream.events.find((e) => e.type === "approval_resolved") as Extract<StreamEvent, { type: "approval_resolved" }>;
      expect(resolved.data).toMatchObject({ id: approval.id, status: "approved" });

      // The audit: the decision, then the tool call it let through, and never the credential.
      const auditRes = await nubabel.api(`/api/audit?runId=${runId}`, { apiKey: a.apiKey });
      const auditText = await auditRes.text();
      const entries = (JSON.parse(auditText) as { entries: Array<Record<string, unknown>> }).entries;
      expect(entries.map((e) => [e.kind, e.action, e.actor, e.status])).toEqual([
        ["approval", "approve", "api", "approved"],
        ["tool_call", "invoke", "agent", "ok"],
      ]);
      expect(entries[1]).toMatchObject({ runId, sessionId, tool: "echo", provider: "everything" });
      expect(auditText).not.toContain(SECRET_TOKEN);
      expect(auditText).not.toContain("approve me");
      expect(await (await nubabel.api(`/api/audit?runId=${runId}`, { apiKey: b.apiKey })).json()).toEqual({ entries: [] });
    } finally {
      stream.close();
    }
  }, 90_000);

  it("a denial reaches the model as a tool error naming who denied it and why; the agent goes on", async () => {
    await setPolicy({ approvals: [{ match: "everything/*" }] });
    real.model.script(echoCall("deny me"), { text: "understood, not echoed" });
    const { runId } = await start("echo, if allowed");
    const approval = (await waiting(runId)).approvals![0]!;
    const res = await decide(runId, approval.id, { decision: "deny", reason: "not on a Friday" });
    expect(await res.json()).toMatchObject({ status: "denied", decidedBy: "api", reason: "not on a Friday" });
    expect(await finished(runId)).toMatchObject({ status: "completed", output: "understood, not echoed" });
    const told = toolResults(real).join("\n");
    expect(told).toContain("denied by the organization, through the API: not on a Friday");
    expect(told).not.toContain("Echo: deny me");
  }, 90_000);

  it("an approval nobody answers expires and the agent is told so; the session goes on", async () => {
    await setPolicy({ approvals: [{ match: "everything/echo" }], timeoutSeconds: 3 });
    real.model.script(echoCall("too late"), { text: "nobody answered, going on" });
    const { runId, sessionId } = await start("echo within three seconds");
    const pending = (await waiting(runId)).approvals![0]!;
    expect(Date.parse(pending.expiresAt) - Date.parse(pending.requestedAt)).toBe(3_000);
    const done = await finished(runId);
    expect(done).toMatchObject({ status: "completed", output: "nobody answered, going on" });
    expect(done.approvals![0]).toMatchObject({ status: "expired", decidedBy: "timeout", reason: "nobody answered within 3 seconds" });
    expect(toolResults(real).join("\n")).toContain("nobody answered");
    expect((await decide(runId, pending.id, { decision: "approve" })).status).toBe(409);
    // Not stuck: the next turn of the same session runs (with no rule, without asking).
    await setPolicy({ approvals: [] });
    real.model.script({ text: "next turn" });
    const next = await start("and now?", sessionId);
    expect(await finished(next.runId)).toMatchObject({ status: "completed", output: "next turn" });
  }, 90_000);

  it("a bash command under the policy waits for the decision instead of being refused", async () => {
    await setPolicy({ approvals: [{ match: "bash" }] });
    real.model.script({ toolCalls: [{ name: "bash", arguments: { command: "echo approved-shell-ran", description: "print a word" } }] }, { text: "shell done" });
    const { runId } = await start("run a command");
    const approval = (await waiting(runId)).approvals![0]!;
    expect(approval).toMatchObject({ tool: "bash", status: "pending" });
    expect(approval.provider).toBeUndefined();
    expect(JSON.stringify(approval.arguments)).toContain("echo approved-shell-ran");
    expect(toolResults(real)).toEqual([]);
    await decide(runId, approval.id, { decision: "approve" });
    expect(await finished(runId)).toMatchObject({ status: "completed", output: "shell done" });
    expect(toolResults(real).join("\n")).toContain("approved-shell-ran");
  }, 90_000);

  it("an approval pending across a Nubabel restart is decided afterwards, and the run finishes", async () => {
    await setPolicy({ approvals: [{ match: "everything/echo" }] });
    real.model.script(echoCall("across a restart"), { text: "finished after the restart" });
    const { runId } = await start("echo across a restart");
    const approval = (await waiting(runId)).approvals![0]!;
    await nubabel.close();
    nubabel = await startTestNubabel(env);
    const view = await run(runId);
    expect(view.status).toBe("waiting_approval");
    expect(view.approvals![0]).toMatchObject({ id: approval.id, status: "pending" });
    expect((await decide(runId, approval.id, { decision: "approve" })).status).toBe(200);
    expect(await finished(runId)).toMatchObject({ status: "completed", output: "finished after the restart" });
    expect(toolResults(real).join("\n")).toContain("across a restart");
  }, 240_000);

  it("other organizations and sessions are not held up while a run waits", async () => {
    await setPolicy({ approvals: [{ match: "everything/echo" }] });
    real.model.script(echoCall("hold"));
    const held = await start("echo, held");
    const approval = (await waiting(held.runId)).approvals![0]!;
    real.model.script({ text: "B is not held up" });
    const res = await nubabel.api("/api/delegate", { apiKey: b.apiKey, body: { prompt: "hello" } });
    expect(await res.json()).toMatchObject({ status: "success", output: "B is not held up" });
    real.model.script({ text: "done" });
    await decide(held.runId, approval.id, { decision: "deny" });
    expect((await finished(held.runId)).status).toBe("completed");
  }, 90_000);

  it("a run stopped while it waits closes its approval: nobody can decide it any more", async () => {
    await setPolicy({ approvals: [{ match: "everything/echo" }] });
    real.model.script(echoCall("never"));
    const { runId } = await start("echo, then be stopped");
    const approval = (await waiting(runId)).approvals![0]!;
    expect((await nubabel.api(`/api/runs/${runId}/abort`, { method: "POST", apiKey: a.apiKey })).status).toBe(200);
    const ended = await finished(runId);
    expect(ended.status).toBe("aborted");
    const closed = await poll(() => run(runId), (r) => r.approvals?.[0]?.status !== "pending");
    expect(closed.approvals![0]).toMatchObject({ id: approval.id, status: "expired", decidedBy: "run", reason: "the run ended (aborted) before anyone decided" });
    expect((await decide(runId, approval.id, { decision: "approve" })).status).toBe(409);
    expect(toolResults(real).join("\n")).not.toContain("never");
  }, 90_000);

  it("Nubabel runs a covered MCP call only if a person approved that very call, whatever the sidecar sends", async () => {
    // Rules are matched however the connection's name is spelled.
    await setPolicy({ approvals: [{ match: "EveryThing/ECHO" }] });
    const forged = async (body: Record<string, unknown>) => {
      const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: "forged-thread", organizationId: a.organizationId, ttlSeconds: 60 });
      const raw = JSON.stringify(body);
      const url = `${nubabel.url}/api/sidecar/mcp/invoke`;
      const route = { direction: "sidecar-to-nubabel", method: "POST", path: new URL(url).pathname } as const;
      const res = await fetch(url, { method: "POST", body: raw, headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, route, raw) } });
      return { status: res.status, body: (await res.json()) as { isError?: boolean; result?: { content?: Array<{ text: string }> } } };
    };
    const unasked = await forged({ provider: "everything", toolName: "echo", args: { message: "forged-marker" }, callId: "call_never_asked" });
    expect(unasked.status).toBe(200);
    expect(unasked.body.isError).toBe(true);
    expect(unasked.body.result?.content?.[0]?.text).toContain("was not run");
    expect(JSON.stringify(unasked.body)).not.toContain("Echo: forged-marker");
    // Without a call id, and by the connection's other spelling: refused alike. An uncovered tool runs.
    expect((await forged({ provider: "EVERYTHING", toolName: "echo", args: { message: "x" } })).body.isError).toBe(true);
    const other = await forged({ provider: "everything", toolName: "get-sum", args: { a: 1, b: 2 } });
    expect(other.body.isError).toBeFalsy();
  });
});
