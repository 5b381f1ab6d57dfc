import { Capabilities, type Callbacks } from "@nubabel/contracts";

/** What a delegation hands the sidecar so its callbacks reach this session and nothing else. */
export interface Binding {
  organizationId: string;
  callbacks: Callbacks;
  callbackToken: string;
}

/**
 * Callback URLs built from Nubabel's own public URL (never from anything a caller sent) and a
 * capability token bound to the session and organization.
 */
export function bind(
  publicUrl: string,
  tokenSecret: string,
  session: { id: string; organizationId: string },
  ttlSeconds: number,
): Binding {
  const base = `${publicUrl}/api/sidecar`;
  const sid = encodeURIComponent(session.id);
  return {
    organizationId: session.organizationId,
    callbacks: {
      sessionUpdate: `${base}/sessions/${sid}/update`,
      progress: `${base}/sessions/${sid}/progress`,
      mcpInvoke: `${base}/mcp/invoke`,
      mcpList: `${base}/mcp/list`,
      runResult: `${base}/sessions/${sid}/result`,
    },
    callbackToken: Capabilities.issue(tokenSecret, {
      aud: "callback",
      sessionId: session.id,
      organizationId: session.organizationId,
      ttlSeconds,
    }),
  };
}
