import type { Transport as SdkTransport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { McpConnection } from "./connection.js";
import { redactText, secretsOf } from "./redact.js";

/** What a stdio server may see of Nubabel's host besides its credentials. */
export interface StdioHost {
  /** PATH for finding `node`, `npx`…; comes from configuration, not from Nubabel's whole environment. */
  path: string;
  /** A folder the servers may use as HOME and working directory (npx cache, temp files). */
  home: string;
}

export interface BuiltTransport {
  transport: SdkTransport;
  /** The child's pid for stdio (after start), for diagnostics and tests. */
  pid(): number | undefined;
  /** The last lines the server wrote to stderr, credential values blanked out. */
  stderrTail(): string;
  /** Settles once a stdio server's process has exited (at once for HTTP or a process never started). */
  stopped(): Promise<void>;
}

const TAIL_BYTES = 4096;

/**
 * Builds the SDK transport for a connection, injecting its credentials the way the server expects.
 * A stdio server gets only PATH, HOME and its credentials: never Nubabel's own secrets (database
 * URL, encryption key…). The SDK itself adds the harmless LOGNAME, SHELL, TERM and USER.
 */
export function buildTransport(conn: McpConnection, host: StdioHost, guardedFetch?: FetchLike): BuiltTransport {
  if (conn.transport.type === "http") {
    const transport = new StreamableHTTPClientTransport(new URL(conn.transport.url), {
      requestInit: { headers: { ...conn.credentials } },
      ...(conn.restrictNetwork ? { fetch: guardedFetch ?? refuseUnguarded } : {}),
      // Redirects stay on the same origin (the SDK's default), so headers never follow one elsewhere.
      redirectPolicy: "same-origin",
    });
    return { transport, pid: () => undefined, stderrTail: () => "", stopped: async () => undefined };
  }
  const transport = new StdioClientTransport({
    command: conn.transport.command,
    args: conn.transport.args,
    env: { PATH: host.path, HOME: host.home, TMPDIR: host.home, ...conn.credentials },
    cwd: host.home,
    // Piped, not inherited: a server's chatter must not reach Nubabel's logs unredacted.
    stderr: "pipe",
  });
  let tail = "";
  const secrets = secretsOf(conn.credentials);
  const redact = (text: string) => redactText(text, secrets);
  transport.stderr?.on("data", (chunk: Buffer) => {
    // Redacted before trimming, so a secret split across chunks or across the cut is still caught.
    tail = redact(tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
  });
  // The SDK forgets its child as soon as a close begins, and a second close returns at once; so the
  // exit is observed here (the SDK chains this handler) for the pool to wait on at shutdown.
  let spawned = false;
  let exited = false;
  let markExited = () => {};
  const exit = new Promise<void>((resolve) => (markExited = resolve));
  transport.onclose = () => ((exited = true), markExited());
  const start = transport.start.bind(transport);
  transport.start = async () => {
    await start();
    spawned = true;
  };
  return {
    transport,
    pid: () => transport.pid ?? undefined,
    stderrTail: () => tail.trim(),
    stopped: () => (spawned && !exited ? exit : Promise.resolve()),
  };
}

// Fails closed: a restricted connection must never fall back to an unguarded fetch.
const refuseUnguarded: FetchLike = async () => {
  throw new Error("restricted connection without a guarded fetch");
};
