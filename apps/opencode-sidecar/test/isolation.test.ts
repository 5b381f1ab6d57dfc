import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EngineSupervisor } from "../src/engine/supervisor.js";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

/** What the agent's own shell can reach: neither the engine's secrets nor another session's tools. */
describe("agent isolation", () => {
  let h!: Harness;
  useHarness({}, (started) => (h = started));

  const engineEnv = () => {
    const pid = (h.sidecar.engine as EngineSupervisor).pid!;
    const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
    return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  };

  it("keeps the sidecar's shared secret out of the engine, and the engine's secrets out of the agent's shell", async () => {
    const env = engineEnv();
    expect(Object.values(env).join("\n")).not.toContain(h.secret.slice(6));
    expect(env.SIDECAR_SHARED_SECRET).toBeUndefined();
    expect(env.NUBABEL_BRIDGE_SECRET).toBeTruthy();

    h.model.script(
      { toolCalls: [{ name: "bash", arguments: { command: 'echo "[$NUBABEL_BRIDGE_SECRET][$OPENCODE_SERVER_PASSWORD][$OPENCODE_CONFIG_CONTENT]"', description: "Print variables" } }] },
      { text: "done" },
    );
    const res = await h.post("/delegate", delegateBody(h, "ses_shell", "print the variables"));
    expect(res.body.status).toBe("success");
    const seen = JSON.stringify(h.model.requests.at(-1)!.messages);
    expect(seen).toContain("[][][]");
    expect(seen).not.toContain(env.NUBABEL_BRIDGE_SECRET!);
    expect(seen).not.toContain(env.OPENCODE_SERVER_PASSWORD!);
  });

  it("refuses a bridge call that no running tool call of that session stands behind", async () => {
    h.model.script({ text: "created" });
    const created = await h.post("/delegate", delegateBody(h, "ses_victim", "hello"));
    const victim = created.body.metadata.opencodeSessionId as string;
    const { NUBABEL_BRIDGE_SECRET: secret, NUBABEL_BRIDGE_URL: url } = engineEnv();
    h.receiver.reset();
    const forged = await fetch(`${url}/internal/bridge/mcp/invoke`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ sessionID: victim, callID: "call_forged", provider: "notion", toolName: "search", args: {} }),
    });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { message: string } }).error.message).toMatch(/no tool call call_forged is running/);
    const missing = await fetch(`${url}/internal/bridge/mcp/list`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ sessionID: victim }),
    });
    expect(missing.status).toBe(400);
    expect(h.receiver.received.filter((r) => r.path.includes("/mcp/"))).toHaveLength(0);
  });
});
