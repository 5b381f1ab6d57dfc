import { describe, expect, it } from "vitest";
import { DelegateResponse, isTerminal } from "@nubabel/contracts";
import { delegateBody, type Harness, ORG, useHarness } from "./fixtures.js";

/** Acceptance 1–3: delegation, follow-up context, tool calls through Nubabel, ordered progress. */
describe("sidecar on the real engine", () => {
  let h!: Harness;
  useHarness({}, (started) => (h = started));

  it("delegates, answers with the model's text, and a follow-up carries the first exchange", async () => {
    h.model.script({ text: "There are 5 tasks." }, { text: "2 are urgent." });
    const first = await h.post("/delegate", delegateBody(h, "ses_follow", "Summarize my tasks"));
    expect(first.status).toBe(200);
    const answer = DelegateResponse.parse(first.body);
    expect(answer).toMatchObject({ status: "success", output: "There are 5 tasks.", metadata: { nubabelSessionId: "ses_follow", model: "nubabel-model/scripted" } });
    const ocId = answer.metadata.opencodeSessionId;

    const second = await h.post(`/sessions/${ocId}/prompt`, { prompt: "How many are urgent?" });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: "success", output: "2 are urgent.", metadata: { opencodeSessionId: ocId } });

    const followUp = h.model.requests.at(-1)!;
    const contents = followUp.messages.map((m) => JSON.stringify(m.content));
    expect(contents.some((c) => c.includes("Summarize my tasks"))).toBe(true);
    expect(contents.some((c) => c.includes("There are 5 tasks."))).toBe(true);
    expect(contents.at(-1)).toContain("How many are urgent?");
    // The category's prompt and the requested skill reach the model as system text.
    expect(JSON.stringify(h.model.requests[0]!.messages[0])).toContain("Help with the request efficiently");
  });

  it("runs nubabel_mcp_invoke through Nubabel for the bound organization only", async () => {
    h.receiver.mcp = (body) => ({ body: { result: { tasks: ["ship it"], sawOrg: body.organizationId } } });
    h.model.script(
      { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "getTasks", args: { status: "open" }, organizationId: "org_evil" } }] },
      { text: "You have one task: ship it." },
    );
    const res = await h.post("/delegate", delegateBody(h, "ses_tools", "What are my tasks?", { load_skills: ["mcp-integration"] }));
    expect(res.body).toMatchObject({ status: "success", output: "You have one task: ship it." });

    const calls = h.receiver.received.filter((r) => r.path === "/api/sidecar/mcp/invoke");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      signatureError: undefined,
      token: "token-for-ses_tools",
      body: { organizationId: ORG, provider: "notion", toolName: "getTasks", args: { status: "open" } },
    });
    // The receiver's answer is what the model sees next.
    const next = JSON.stringify(h.model.requests.at(-1)!.messages);
    expect(next).toContain("ship it");
    expect(next).toContain(ORG);
    expect(JSON.stringify(h.model.requests[0]!.tools)).toContain("nubabel_mcp_invoke");
    expect(JSON.stringify(h.model.requests[0]!.messages[0])).toContain("nubabel_mcp_list");
  });

  it("gives the agent a tool error when Nubabel refuses the call", async () => {
    h.receiver.mcp = () => ({ status: 404, body: { error: { code: "connection_not_found", message: "no notion connection; connected: github" } } });
    h.model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "x" } }] }, { text: "Notion is not connected." });
    const res = await h.post("/delegate", delegateBody(h, "ses_toolerr", "Use notion"));
    expect(res.body).toMatchObject({ status: "success", output: "Notion is not connected." });
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("no notion connection; connected: github");
    await h.receiver.until(() => h.receiver.progress("ses_toolerr").some((e) => e.type === "completed"));
    expect(h.receiver.progress("ses_toolerr").map((e) => e.type)).toContain("tool_failed");
  });

  it("posts progress in order, signed, ending with exactly one terminal event", async () => {
    h.model.script(
      { toolCalls: [{ name: "nubabel_mcp_list", arguments: {} }] },
      { text: "All done after looking around, here is a longer answer.", chunks: 8, delayMs: 20 },
    );
    const res = await h.post("/delegate", delegateBody(h, "ses_progress", "Look around"));
    expect(res.body.status).toBe("success");
    await h.receiver.until(() => h.receiver.updates("ses_progress").includes("completed"));
    const events = h.receiver.progress("ses_progress");
    const types = events.map((e) => e.type);
    expect(types.filter((t) => isTerminal({ type: t }))).toEqual(["completed"]);
    expect(types.at(-1)).toBe("completed");
    expect(types).toContain("tool_started");
    expect(types.indexOf("tool_started")).toBeLessThan(types.indexOf("tool_completed"));
    expect(types.indexOf("session_idle")).toBeLessThan(types.indexOf("completed"));
    const texts = events.filter((e) => e.type === "message_updated");
    expect(texts.at(-1)).toMatchObject({ data: { text: "All done after looking around, here is a longer answer." } });
    expect(events.map((e) => e.seq)).toEqual([...events.keys()].map((i) => events[0]!.seq! + i));
    expect(h.receiver.received.every((r) => r.signatureError === undefined)).toBe(true);
    expect(h.receiver.updates("ses_progress")).toEqual(["created", "running", "completed"]);
    expect(events.at(-1)).toMatchObject({ data: { status: "success", output: res.body.output } });
  });
});
