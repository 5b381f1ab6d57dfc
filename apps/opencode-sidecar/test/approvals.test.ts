import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Ids, type ProgressEvent, SidecarRun } from "@nubabel/contracts";
import { EngineDriver } from "../src/engine/driver.js";
import { createLogger } from "../src/logger.js";
import { delegateBody, type Harness, ORG, useHarness } from "./fixtures.js";
import { waitFor } from "./processes.js";

const ASYNC = { prefer: "respond-async" };

/** Issue 14: tool calls a run's approvals cover wait for Nubabel's decision; the rest run at once. */
describe("approvals", () => {
  let h!: Harness;
  // Whether a command ran is read off the file it writes: the sandbox (tested on its own, and not
  // installed on every machine) is beside the point here.
  useHarness({ SANDBOX: "off" }, (started) => (h = started));

  const workspaceFile = (name: string) => path.join(h.dataDir, "workspaces", ORG, name);
  const asked = (sessionId: string) => h.receiver.progress(sessionId).filter((e): e is Extract<ProgressEvent, { type: "permission_asked" }> => e.type === "permission_asked");
  const settled = (runId: string) =>
    waitFor(
      async () => {
        const run = SidecarRun.parse((await h.get(`/runs/${runId}`)).body);
        return ["completed", "failed", "aborted"].includes(run.status) ? run : undefined;
      },
      30_000,
      `run ${runId} to end`,
    );
  const bash = (command: string) => ({ toolCalls: [{ name: "bash", arguments: { command, description: "Write a file" } }] });
  /** Starts a run (202) and waits for its first ask. */
  const startAsking = async (sessionId: string, extra: Record<string, unknown>) => {
    const runId = Ids.create(Ids.Prefix.run);
    const res = await h.post("/delegate", delegateBody(h, sessionId, "do it", { runId, ...extra }), { headers: ASYNC });
    expect(res.status).toBe(202);
    await h.receiver.until(() => asked(sessionId).length > 0, 30_000);
    return { runId, ask: asked(sessionId)[0]! };
  };

  it("holds a covered bash call until Nubabel says once; a second reply is a no-op", async () => {
    h.model.script(bash("echo yes > approved.txt"), { text: "Done." });
    const { runId, ask } = await startAsking("ses_ap_once", { approvals: { match: ["bash"], timeoutMs: 60_000 } });
    expect(ask).toMatchObject({ runId, data: { tool: "bash", arguments: { command: "echo yes > approved.txt" } } });
    expect(ask.data.callId).toBeTruthy();
    // The command waits for the decision.
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(workspaceFile("approved.txt"))).toBe(false);
    expect(h.model.requests).toHaveLength(1);
    // What a reconnect would read: the engine lists the ask as waiting.
    const driver = new EngineDriver(h.sidecar.engine, createLogger("silent"), 5_000);
    driver.init();
    try {
      const waiting = await driver.pendingPermissions(path.join(h.dataDir, "workspaces", ORG));
      expect(waiting).toMatchObject([{ requestId: ask.data.requestId, permission: "bash", callId: ask.data.callId }]);
    } finally {
      driver.close();
    }

    const reply = await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "once" });
    expect(reply).toMatchObject({ status: 200, body: { replied: true } });
    expect(await settled(runId)).toMatchObject({ status: "completed", output: "Done." });
    expect(existsSync(workspaceFile("approved.txt"))).toBe(true);
    expect((await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "once" })).body).toEqual({ replied: false });
  });

  it("a rejection's message is the tool's error the model reads, and the run completes", async () => {
    h.model.script(bash("echo no > rejected.txt"), { text: "Understood." });
    const { runId, ask } = await startAsking("ses_ap_reject", { approvals: { match: ["bash"], timeoutMs: 60_000 } });
    // Another run's id gets nothing, and leaves the ask waiting.
    expect((await h.post(`/runs/${Ids.create(Ids.Prefix.run)}/approvals/${ask.data.requestId}`, { reply: "once" })).body).toEqual({ replied: false });
    const reply = await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "reject", message: "denied by U123: not today" });
    expect(reply.body).toEqual({ replied: true });
    expect(await settled(runId)).toMatchObject({ status: "completed", output: "Understood." });
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("denied by U123: not today");
    expect(existsSync(workspaceFile("rejected.txt"))).toBe(false);
  });

  it("refuses an ask nobody answers once the run's timeout passes", async () => {
    h.model.script(bash("echo late > late.txt"), { text: "Nobody answered." });
    const { runId } = await startAsking("ses_ap_timeout", { approvals: { match: ["bash"], timeoutMs: 1_500 } });
    expect(await settled(runId)).toMatchObject({ status: "completed", output: "Nobody answered." });
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("nobody answered within 2 seconds");
    expect(existsSync(workspaceFile("late.txt"))).toBe(false);
  });

  it("runs bash at once without approvals, or when they cover other tools", async () => {
    for (const [sessionId, extra] of [
      ["ses_ap_none", {}],
      ["ses_ap_other", { approvals: { match: ["write", "notion/*"], timeoutMs: 60_000 } }],
    ] as const) {
      h.model.script(bash(`echo free > ${sessionId}.txt`), { text: "Ran it." });
      const res = await h.post("/delegate", delegateBody(h, sessionId, "do it", extra));
      expect(res.body).toMatchObject({ status: "success", output: "Ran it." });
      expect(existsSync(workspaceFile(`${sessionId}.txt`))).toBe(true);
      await h.sidecar.runner.drained();
      expect(asked(sessionId)).toEqual([]);
    }
  });

  it("holds a covered MCP call before it reaches Nubabel, with secret-looking arguments redacted", async () => {
    const invoked: unknown[] = [];
    h.receiver.mcp = (body) => {
      invoked.push(body);
      return { body: { result: "echoed" } };
    };
    const args = { message: "hi", apiToken: "tok-123", nested: { Password: "pw", keep: "k" } };
    h.model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args } }] }, { text: "Echoed." });
    const { runId, ask } = await startAsking("ses_ap_mcp", { approvals: { match: ["everything/ech*"], timeoutMs: 60_000 } });
    expect(ask.data).toMatchObject({ tool: "echo", provider: "everything", arguments: { message: "hi", apiToken: "[redacted]", nested: { Password: "[redacted]", keep: "k" } } });
    expect(JSON.stringify(ask)).not.toContain("tok-123");
    await new Promise((r) => setTimeout(r, 500));
    expect(invoked).toEqual([]);
    expect((await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "once" })).body).toEqual({ replied: true });
    expect(await settled(runId)).toMatchObject({ status: "completed", output: "Echoed." });
    expect(invoked).toMatchObject([{ provider: "everything", toolName: "echo", args }]);
  });

  it("asks in a follow-up that carries approvals, though its delegation carried none", async () => {
    h.model.script({ text: "Hello." });
    const first = await h.post("/delegate", delegateBody(h, "ses_ap_follow", "hi"));
    expect(first.body).toMatchObject({ status: "success" });
    h.model.script(bash("echo later > follow.txt"), { text: "Done later." });
    const runId = Ids.create(Ids.Prefix.run);
    const res = await h.post(
      `/sessions/${first.body.metadata.opencodeSessionId}/prompt`,
      { prompt: "now run it", runId, approvals: { match: ["bash"], timeoutMs: 60_000 } },
      { headers: ASYNC },
    );
    expect(res.status).toBe(202);
    await h.receiver.until(() => asked("ses_ap_follow").length > 0, 30_000);
    const ask = asked("ses_ap_follow")[0]!;
    expect(ask).toMatchObject({ runId, data: { tool: "bash" } });
    expect((await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "once" })).body).toEqual({ replied: true });
    expect(await settled(runId)).toMatchObject({ status: "completed", output: "Done later." });
    expect(existsSync(workspaceFile("follow.txt"))).toBe(true);
  });

  it("drops a waiting ask when its run is aborted", async () => {
    h.model.script(bash("echo never > aborted.txt"), { text: "unused" });
    const { runId, ask } = await startAsking("ses_ap_abort", { approvals: { match: ["bash"], timeoutMs: 60_000 } });
    const run = SidecarRun.parse((await h.get(`/runs/${runId}`)).body);
    expect((await h.post(`/sessions/${run.opencodeSessionId}/abort`)).body).toMatchObject({ aborted: true });
    expect(await settled(runId)).toMatchObject({ status: "aborted" });
    expect((await h.post(`/runs/${runId}/approvals/${ask.data.requestId}`, { reply: "once" })).body).toEqual({ replied: false });
    expect(existsSync(workspaceFile("aborted.txt"))).toBe(false);
  });

  it("answers 400 naming the bad field", async () => {
    const res = await h.post(`/runs/${Ids.create(Ids.Prefix.run)}/approvals/per_x`, { reply: "maybe" });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain("reply");
    expect((await h.post("/runs/not-a-run/approvals/per_x", { reply: "once" })).status).toBe(400);
  });
});
