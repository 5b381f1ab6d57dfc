import { describe, expect, it } from "vitest";
import { requirements, ruleFor, toApiPolicy } from "./policy.js";

const policy = (approvals: Parameters<typeof toApiPolicy>[0]["policy"]["approvals"], timeoutSeconds?: number) =>
  toApiPolicy({ policy: { approvals, ...(timeoutSeconds ? { timeoutSeconds } : {}) }, version: 1, updatedAt: null });

describe("approval policy", () => {
  it("asks for nothing by default, with a 600 s timeout", () => {
    const p = toApiPolicy({ policy: { approvals: [] }, version: 0, updatedAt: null });
    expect(p).toEqual({ approvals: [], timeoutSeconds: 600, version: 0, updatedAt: null });
    expect(requirements(p, [])).toBeUndefined();
  });

  it("widens an MCP rule to every name the agent could give a connection it covers", () => {
    const p = policy([{ match: "notion/*create*" }, { match: "bash" }], 60);
    const req = requirements(p, [
      { name: "work notion", provider: "notion" },
      { name: "notion", provider: "custom" },
      { name: "gh", provider: "github" },
    ])!;
    expect(req.match.sort()).toEqual(["bash", "custom/*create*", "notion/*create*", "work notion/*create*"].sort());
    expect(req.timeoutMs).toBe(60_000 + 30_000);
  });

  it("finds the first rule covering a call, by the name given or the connection it resolves to", () => {
    const p = policy([{ match: "notion/*", approvers: "workspace" }, { match: "*/echo", approvers: ["U1"] }, { match: "edit" }]);
    expect(ruleFor(p, { tool: "create_page", provider: "work notion", connection: { name: "work notion", provider: "notion" } })?.approvers).toBe("workspace");
    expect(ruleFor(p, { tool: "echo", provider: "everything" })?.approvers).toEqual(["U1"]);
    expect(ruleFor(p, { tool: "apply_patch" })?.match).toBe("edit");
    expect(ruleFor(p, { tool: "bash" })).toBeUndefined();
    // An engine tool's name is not an MCP tool's: `edit` does not cover an MCP tool called edit.
    expect(ruleFor(policy([{ match: "edit" }]), { tool: "edit", provider: "docs" })).toBeUndefined();
  });

  it("matches names whatever their case, as the sidecar does", () => {
    const p = policy([{ match: "Notion/*" }]);
    expect(requirements(p, [{ name: "work", provider: "notion" }])!.match.sort()).toEqual(["Notion/*", "notion/*", "work/*"].sort());
    expect(ruleFor(p, { tool: "create", provider: "work", connection: { name: "work", provider: "notion" } })).toBeDefined();
    expect(requirements(policy([{ match: "*/delete*" }]), [{ name: "a", provider: "b" }])!.match).toEqual(["*/delete*"]);
  });
});
