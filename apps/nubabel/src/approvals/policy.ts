import {
  type ApiPolicy,
  type ApprovalPolicy,
  type ApprovalRequirements,
  type ApprovalRule,
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  ToolMatch,
  toolGlob,
} from "@nubabel/contracts";

/** How long the sidecar waits past Nubabel's own timeout before refusing an ask itself. */
const SIDECAR_MARGIN_MS = 30_000;

/** Engine tools that change files as `edit` does, and are covered by an `edit` rule. */
const EDITS = new Set(["multiedit", "patch", "apply_patch"]);

/** A connection as the agent may name it: by its name or by its provider. */
export interface NamedConnection {
  name: string;
  provider: string;
}

/** The policy in force as the API shows it. */
export function toApiPolicy(stored: { policy: ApprovalPolicy; version: number; updatedAt: Date | null }): ApiPolicy {
  return {
    approvals: stored.policy.approvals,
    timeoutSeconds: stored.policy.timeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    version: stored.version,
    updatedAt: stored.updatedAt?.toISOString() ?? null,
  };
}

/**
 * A policy in words for the audit: its version, what it puts under approval (the matches are
 * checked globs and tool names, no one's data) and its timeout.
 */
export function describePolicy(policy: ApiPolicy): string {
  const rules = policy.approvals.length ? `approval for ${policy.approvals.map((rule) => rule.match).join(", ")}` : "no approvals";
  return `version ${policy.version}: ${rules}; timeout ${policy.timeoutSeconds} s`;
}

const split = (match: string): { provider: string; tool: string } | undefined => {
  const at = match.indexOf("/");
  return at < 0 ? undefined : { provider: match.slice(0, at), tool: match.slice(at + 1) };
};

/** The names the agent could give for the connections a provider glob covers (their names and providers). */
function namesFor(providerGlob: string, connections: NamedConnection[]): string[] {
  // A glob covering every name needs no widening (and widening it could outgrow what one run carries).
  if (/^\**$/.test(providerGlob)) return [providerGlob];
  const re = toolGlob(providerGlob);
  const names = new Set<string>([providerGlob]);
  for (const c of connections) {
    if (re.test(c.name) || re.test(c.provider)) {
      names.add(c.name);
      names.add(c.provider);
    }
  }
  return [...names];
}

/**
 * What the sidecar must ask about for a run: the policy's engine tools as they are, and each MCP
 * rule widened to every name the agent could use for a connection it covers. The agent may name a
 * connection by its name or by its provider; a rule on `notion/*` must hold for a connection named
 * "work notion" as well. Undefined when the policy asks for nothing.
 */
export function requirements(policy: ApiPolicy, connections: NamedConnection[]): ApprovalRequirements | undefined {
  if (policy.approvals.length === 0) return undefined;
  const match = new Set<string>();
  for (const rule of policy.approvals) {
    const mcp = split(rule.match);
    if (!mcp) {
      match.add(rule.match);
      continue;
    }
    for (const name of namesFor(mcp.provider, connections)) {
      const entry = `${name}/${mcp.tool}`;
      if (ToolMatch.safeParse(entry).success) match.add(entry);
    }
  }
  return { match: [...match], timeoutMs: policy.timeoutSeconds * 1000 + SIDECAR_MARGIN_MS };
}

/**
 * The first rule covering a call, which says who may decide it. `connection` is the connection
 * the agent's provider name resolves to, when it still exists.
 */
export function ruleFor(policy: ApiPolicy, call: { tool: string; provider?: string; connection?: NamedConnection }): ApprovalRule | undefined {
  return policy.approvals.find((rule) => {
    const mcp = split(rule.match);
    if (!mcp) return call.provider === undefined && rule.match === (EDITS.has(call.tool) ? "edit" : call.tool);
    if (call.provider === undefined || !toolGlob(mcp.tool).test(call.tool)) return false;
    const re = toolGlob(mcp.provider);
    return [call.provider, call.connection?.name, call.connection?.provider].some((name) => name !== undefined && re.test(name));
  });
}
