import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { Keyring } from "../crypto/keyring.js";
import { loadCatalog, type Catalog } from "./catalog.js";
import type { ConnectionStore } from "./connection-store.js";
import { createMcpGateway, type McpGatewayDeps, type OrganizationMcp } from "./gateway.js";
import { McpPool } from "./pool.js";

export interface McpModuleOptions {
  store: ConnectionStore;
  keyring: Keyring;
  /** Path of the operator's catalog file (`NUBABEL_MCP_CATALOG`), if any. */
  catalogPath?: string;
  /** `NUBABEL_MCP_ALLOW_PRIVATE_URLS`: custom servers may live on private networks. */
  allowPrivateUrls: boolean;
  /** The data folder; stdio servers get `<dataDir>/mcp-home` as HOME (npx cache, temp files). */
  dataDir: string;
  /** PATH for stdio servers, from configuration. */
  path: string;
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  toolsTtlMs?: number;
  maxStdioServers?: number;
  /** Every tool call is recorded here. */
  audit?: McpGatewayDeps["audit"];
  /** The run a session is running now, for the audit (see `McpGatewayDeps`). */
  currentRun?: McpGatewayDeps["currentRun"];
  log?: Logger;
}

export interface McpModule {
  gateway: OrganizationMcp;
  catalog: Catalog;
  pool: McpPool;
  /** Stops every MCP server and client; call on shutdown. */
  close(): Promise<void>;
}

/** Builds the MCP module from configuration values, for `main.ts` to wire in one call. */
export async function createMcpModule(options: McpModuleOptions): Promise<McpModule> {
  const catalog = await loadCatalog(options.catalogPath);
  const home = path.join(options.dataDir, "mcp-home");
  await mkdir(home, { recursive: true, mode: 0o700 });
  const log = options.log?.child({ module: "mcp" });
  const pool = new McpPool({
    stdio: { path: options.path, home },
    callTimeoutMs: options.callTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    toolsTtlMs: options.toolsTtlMs,
    maxStdioServers: options.maxStdioServers,
    log,
  });
  const gateway = createMcpGateway({
    store: options.store,
    keyring: options.keyring,
    runner: pool,
    catalog,
    allowPrivateUrls: options.allowPrivateUrls,
    audit: options.audit,
    currentRun: options.currentRun,
    log,
  });
  return { gateway, catalog, pool, close: () => pool.close() };
}
