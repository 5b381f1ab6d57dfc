import { timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Bridge } from "../../bridge/bridge.js";
import { UnauthorizedError } from "../errors.js";
import { parse } from "../validate.js";

export interface BridgeRouteDeps {
  bridge: Bridge;
  /** Handed to the engine child in its environment; the plugin presents it. */
  bridgeSecret: string;
}

const InvokeBody = z.object({
  sessionID: z.string().min(1),
  callID: z.string().min(1),
  provider: z.string().min(1).max(100),
  toolName: z.string().min(1).max(200),
  args: z.record(z.string(), z.unknown()).default({}),
});
const ListBody = z.object({
  sessionID: z.string().min(1),
  callID: z.string().min(1),
  provider: z.string().min(1).max(100).optional(),
  tool: z.string().min(1).max(200).optional(),
});

/** The plugin's way back into the sidecar: loopback only, guarded by the per-process secret. */
export function bridgeRoutes(deps: BridgeRouteDeps): FastifyPluginAsync {
  const expected = Buffer.from(`Bearer ${deps.bridgeSecret}`);
  return async (app) => {
    app.addHook("preHandler", async (req) => {
      const given = Buffer.from(req.headers.authorization ?? "");
      const loopback = req.socket.remoteAddress === "127.0.0.1" || req.socket.remoteAddress === "::1" || req.socket.remoteAddress === "::ffff:127.0.0.1";
      if (!loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new UnauthorizedError("the bridge is for the sidecar's own engine");
      }
    });
    app.post("/internal/bridge/mcp/invoke", async (req) => {
      const body = parse(InvokeBody, req.body);
      return deps.bridge.invoke(body.sessionID, body.callID, body);
    });
    app.post("/internal/bridge/mcp/list", async (req) => {
      const body = parse(ListBody, req.body);
      return deps.bridge.list(body.sessionID, body.callID, {
        ...(body.provider ? { provider: body.provider } : {}),
        ...(body.tool ? { tool: body.tool } : {}),
      });
    });
  };
}
