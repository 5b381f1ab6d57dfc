import type { ProgressEvent } from "@nubabel/contracts";
import { describe, expect, it } from "vitest";
import { INITIAL, reduce, render } from "./progress-view.js";

const at = { timestamp: "2026-01-01T00:00:00.000Z" };
const run = (...events: ProgressEvent[]) => events.reduce(reduce, INITIAL);

describe("progress view", () => {
  it("names the connected service and tool rather than the bridge tool", () => {
    const state = run({ type: "tool_started", data: { tool: "nubabel_mcp_invoke", callId: "1", input: { provider: "notion", toolName: "search" } }, ...at });
    expect(render(state)).toContain("Using `notion › search`…");
    expect(render(state)).toContain("Tools used: `notion › search`");
  });

  it("shows the tail of the answer being written, quoted and escaped", () => {
    const state = run({ type: "message_updated", data: { text: `${"x".repeat(400)} a < b` }, ...at });
    const text = render(state);
    expect(text).toContain("Writing the answer…");
    expect(text).toContain("> …");
    expect(text).toContain("a &lt; b");
    expect(text.length).toBeLessThan(500);
  });

  it("says when the model is retrying, and returns the same state for events that change nothing visible", () => {
    expect(render(run({ type: "status", data: { status: "retry", attempt: 2 }, ...at }))).toContain("retrying (attempt 2)");
    const state = run({ type: "status", data: { status: "busy" }, ...at });
    expect(reduce(state, { type: "connected", data: { sessionId: "s" }, ...at })).toBe(state);
    expect(reduce(state, { type: "completed", data: { status: "success", output: "done" }, ...at })).toBe(state);
  });

  it("keeps the tool list short: the latest tools and a count of the rest", () => {
    const events = Array.from({ length: 12 }, (_, i): ProgressEvent => ({ type: "tool_started", data: { tool: `t${i}`, callId: `${i}` }, ...at }));
    const text = render(run(...events));
    expect(text).toContain("`t11`");
    expect(text).not.toContain("`t0`");
    expect(text).toContain("and 4 earlier");
  });
});
