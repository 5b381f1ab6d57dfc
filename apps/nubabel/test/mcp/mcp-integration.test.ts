import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DelegateResponse } from "@nubabel/contracts";
import { ModelServer } from "@nubabel/testkit";
import { startSidecar, type Sidecar } from "@nubabel/opencode-sidecar";
import { Keyring } from "../../src/crypto/index.js";
import { backendEnv, tempDir } from "../fixtures/backends.js";
import { nubabelCli as cli } from "../fixtures/cli.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { RecordingProxy } from "./recording-proxy.js";
import { everything, freePort, notion, startFakeNotionApi, startHttpServer, type RunningServer } from "./servers.js";

/**
 * Issue 4's acceptance on real parts: Nubabel (PostgreSQL + Redis, or the embedded default), the
 * real sidecar and OpenCode engine, the scripted model, and registry MCP servers over stdio
 * (`@notionhq/notion-mcp-server` against a local stand-in for api.notion.com,
 * `@modelcontextprotocol/server-everything`). Every byte between Nubabel and the sidecar goes
 * through recording proxies, so the tests can read what crossed.
 */

const secretOf = (label: string) => `${label}_${randomBytes(16).toString("hex")}`;

/** Every pid below `pid` (its children, their children…), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (parents.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}

function environOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return "";
  }
}

/** Pids of this process's descendants whose environment holds `needle` (a running stdio MCP server). */
const processesWith = (needle: string) => descendants(process.pid).filter((p) => environOf(p).includes(needle));

/** Polls until `ok()` holds; the test's own timeout bounds it (no assertion on how long it took). */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Every file under `dir`, concatenated (to scan a PGlite data folder byte for byte). */
function filesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const file = path.join(d, name);
      const st = statSync(file);
      if (st.isDirectory()) walk(file);
      else if (st.isFile()) parts.push(readFileSync(file));
    }
  };
  walk(dir);
  return Buffer.concat(parts);
}


type Answer = DelegateResponse & { error?: { code: string; message: string } };

for (const kind of ["shared", "embedded"] as const) {
  describe(`MCP tools with the organization's credentials (${kind})`, () => {
    const k1 = `k1:${Keyring.generateKey()}`;
    const k2 = `k2:${Keyring.generateKey()}`;
    const secrets = { ...testSecrets(), NUBABEL_ENCRYPTION_KEY: k1 };
    const sidecarData = tempDir("sidecar");
    const notionTokenA = secretOf("ntn_orgA");
    const everythingTokenA = secretOf("evA");
    const everythingTokenB = secretOf("evB");
    const httpTokenA = secretOf("httpA");
    const logs: string[] = [];
    const responses: string[] = [];
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let model: ModelServer;
    let sidecar: Sidecar;
    let nubabel: TestNubabel;
    let port: number;
    let toSidecar: RecordingProxy;
    let toNubabel: RecordingProxy;
    let notionApi: Awaited<ReturnType<typeof startFakeNotionApi>>;
    let httpServer: RunningServer;
    /** In front of the streamable-HTTP server, to see the headers Nubabel sent it. */
    let toHttpServer: RecordingProxy;
    let catalogFile: string;
    let orgA: { organizationId: string; apiKey: string };
    let orgB: { organizationId: string; apiKey: string };
    let nubabelEnv: Record<string, string>;

    const start = async (extra: Record<string, string> = {}) => {
      nubabel = await startTestNubabel(
        { ...nubabelEnv, ...extra },
        { logDestination: { write: (line: string) => void logs.push(line) } },
      );
    };

    /** The API, keeping every response body for the plaintext scan. */
    const api = async (pathname: string, init: { method?: string; body?: unknown; apiKey: string }) => {
      const res = await nubabel.api(pathname, init);
      const text = await res.text();
      responses.push(text);
      return { status: res.status, body: JSON.parse(text) as Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } } };
    };

    const delegate = async (apiKey: string, prompt: string) => {
      const res = await api("/api/delegate", { body: { prompt }, apiKey });
      return res.body as unknown as Answer;
    };

    /** What the model was sent in its `n`th request of this test (1-based), as text. */
    const seen = (n: number) => JSON.stringify(model.requests[n - 1]?.messages ?? null);

    beforeAll(async () => {
      backend = await backendEnv(kind);
      model = await ModelServer.start();
      notionApi = await startFakeNotionApi();
      httpServer = await startHttpServer(await everything(), () => ["streamableHttp"]);
      toHttpServer = await RecordingProxy.start(`http://127.0.0.1:${httpServer.port}`);
      catalogFile = path.join(sidecarData.dir, "catalog.json");
      writeFileSync(
        catalogFile,
        JSON.stringify({
          providers: {
            // The real Notion server, offline: BASE_URL points it at the stand-in for api.notion.com.
            notion: { transport: { type: "stdio", command: process.execPath, args: [await notion()] }, credentials: ["NOTION_TOKEN", "BASE_URL"] },
            everything: { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] },
            // The operator's own HTTP server (catalog entries are the operator's choice, so loopback is fine).
            "everything-http": { transport: { type: "http", url: `${toHttpServer.url}/mcp` }, credentials: ["Authorization"] },
            // A server that exits at once, as a misconfigured or broken one would.
            broken: { transport: { type: "stdio", command: process.execPath, args: ["-e", "process.stderr.write('cannot start: missing config'); process.exit(3)"] } },
          },
        }),
      );
      port = await freePort();
      toSidecar = await RecordingProxy.start();
      toNubabel = await RecordingProxy.start(`http://127.0.0.1:${port}`);
      sidecar = await startSidecar({
        SIDECAR_PORT: "0",
        SIDECAR_SHARED_SECRET: secrets.SIDECAR_SHARED_SECRET,
        NUBABEL_CALLBACK_URL: toNubabel.url,
        SIDECAR_DATA_DIR: sidecarData.dir,
        MODEL_BASE_URL: model.url,
        MODEL_NAME: "scripted",
        PROGRESS_TEXT_INTERVAL_MS: "50",
        LOG_LEVEL: "silent",
      });
      toSidecar.target = sidecar.url;
      nubabelEnv = {
        ...backend.env,
        ...secrets,
        NUBABEL_PORT: String(port),
        NUBABEL_URL: toNubabel.url,
        SIDECAR_URL: toSidecar.url,
        NUBABEL_MCP_CATALOG: catalogFile,
        NUBABEL_MCP_CALL_TIMEOUT_MS: "3000",
        LOG_LEVEL: "debug",
      };
      await start();
      orgA = await createOrganization(nubabel, "Acme");
      orgB = await createOrganization(nubabel, "Globex");
      const created = [
        await api("/api/connections", { apiKey: orgA.apiKey, body: { provider: "notion", credentials: { NOTION_TOKEN: notionTokenA, BASE_URL: notionApi.url } } }),
        await api("/api/connections", { apiKey: orgA.apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: everythingTokenA } } }),
        await api("/api/connections", { apiKey: orgB.apiKey, body: { provider: "everything", name: "globex-tools", credentials: { EVERYTHING_TOKEN: everythingTokenB } } }),
        await api("/api/connections", { apiKey: orgA.apiKey, body: { provider: "everything-http", credentials: { Authorization: `Bearer ${httpTokenA}` } } }),
      ];
      expect(created.map((c) => c.status)).toEqual([201, 201, 201, 201]);
    });

    afterAll(async () => {
      await nubabel?.close();
      await sidecar?.close();
      await toSidecar?.close();
      await toNubabel?.close();
      await model?.close();
      notionApi?.server.close();
      await toHttpServer?.close();
      await httpServer?.stop();
      await backend?.cleanup();
      sidecarData.remove();
    });

    beforeEach(() => {
      model.reset();
      notionApi.requests.length = 0;
    });

    it("end to end: the agent lists the tools, invokes one, the real server runs it with the organization's token, and the result reaches the model", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_list", arguments: {} }] },
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "API-get-self", args: {} } }] },
        { text: "Your Notion bot is connected." },
      );
      const answer = await delegate(orgA.apiKey, "who am I on Notion?");
      expect(answer).toMatchObject({ status: "success", output: "Your Notion bot is connected." });
      // The list the agent read, whole: Acme's connections and their tools. Notion's schemas alone
      // would pass the engine's output limit, so they are left out with a note saying how to ask.
      expect(seen(2)).toContain('\\"provider\\":\\"notion\\"');
      expect(seen(2)).toContain("API-get-user");
      expect(seen(2)).toContain("Input schemas of notion were left out");
      // The real Notion server called the Notion API with Acme's own token…
      expect(notionApi.requests.map((h) => h.authorization)).toEqual([`Bearer ${notionTokenA}`]);
      // …and what it answered is in the model's next request.
      expect(seen(3)).toContain("Fake Notion bot");
    });

    it("the agent asks for one tool's schema when the list left it out", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_list", arguments: { provider: "notion", tool: "API-get-self" } }] },
        { toolCalls: [{ name: "nubabel_mcp_list", arguments: { provider: "notion", tool: "API-no-such-tool" } }] },
        { text: "Got it." },
      );
      const answer = await delegate(orgA.apiKey, "what does API-get-self take?");
      expect(answer).toMatchObject({ status: "success", output: "Got it." });
      expect(seen(2)).toContain('\\"name\\":\\"API-get-self\\"');
      expect(seen(2)).toContain("inputSchema");
      expect(seen(2)).not.toContain("API-get-user");
      // An unknown tool is an error the agent reads, naming the tools that exist.
      expect(seen(3)).toMatch(/has no tool \\"API-no-such-tool\\"; available: .*API-get-self/);
    });

    it("the same over streamable HTTP: the credential goes as the header the catalog names", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything-http", toolName: "echo", args: { message: "over http" } } }] },
        { text: "done" },
      );
      expect(await delegate(orgA.apiKey, "echo over http")).toMatchObject({ status: "success", output: "done" });
      expect(seen(2)).toContain("Echo: over http");
      const calls = toHttpServer.exchanges.filter((e) => e.method === "POST");
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.every((e) => e.headers.authorization === `Bearer ${httpTokenA}`)).toBe(true);

      // A tool the server does not have: the agent reads which ones it does have.
      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything-http", toolName: "no-such-tool", args: {} } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "call a tool that does not exist");
      expect(seen(2)).toContain('has no tool \\"no-such-tool\\"; available: ');
      expect(seen(2)).toMatch(/available: [^"]*\becho\b/);
    });

    it("organization B's session can neither list nor invoke organization A's connections, whatever the agent's arguments say", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_list", arguments: { organizationId: orgA.organizationId } }] },
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "API-get-self", args: {}, organizationId: orgA.organizationId } }] },
        { toolCalls: [{ name: "nubabel_mcp_list", arguments: { provider: "notion" } }] },
        { text: "I only see Globex's tools." },
      );
      const answer = await delegate(orgB.apiKey, "use Acme's Notion");
      expect(answer).toMatchObject({ status: "success", output: "I only see Globex's tools." });
      // B's listing names its own connection only.
      expect(seen(2)).toContain("globex-tools");
      expect(seen(2)).not.toContain("API-get-self");
      expect(seen(2)).not.toMatch(/"name\\?":\s*\\?"notion/);
      // Invoking A's provider is refused as unknown to B, listing B's own providers.
      expect(seen(3)).toContain('no enabled MCP connection for provider \\"notion\\"');
      expect(seen(3)).toContain("globex-tools");
      expect(seen(4)).toContain('no enabled MCP connection for provider \\"notion\\"');
      expect(notionApi.requests).toEqual([]);
      // B's own tools do run, with B's credential, not A's.
      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "globex-tools", toolName: "get-env", args: {} } }] }, { text: "ok" });
      await delegate(orgB.apiKey, "show env");
      expect(seen(2)).toContain("EVERYTHING_TOKEN");
      expect(seen(2)).not.toContain(everythingTokenB);
      expect(seen(2)).not.toContain(everythingTokenA);
      expect(processesWith(everythingTokenB).length).toBeGreaterThan(0);
    });

    it("a hung MCP call times out as a tool error the agent reads; a crashed stdio server is restarted on the next call", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "trigger-long-running-operation", args: { duration: 600, steps: 1 } } }] },
        { text: "It timed out." },
      );
      const hung = await delegate(orgA.apiKey, "run the long thing");
      expect(hung).toMatchObject({ status: "success", output: "It timed out." });
      expect(seen(2)).toMatch(/did not answer tools\/call trigger-long-running-operation within 3000 ms/);

      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "before crash" } } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "echo");
      expect(seen(2)).toContain("Echo: before crash");
      // The server the timed-out call left behind is being stopped; wait for the one echo runs on.
      await until(() => processesWith(everythingTokenA).length === 1);
      const [pid] = processesWith(everythingTokenA);
      process.kill(pid!, "SIGKILL");
      await until(() => !processesWith(everythingTokenA).includes(pid!));

      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "after crash" } } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "echo again");
      expect(seen(2)).toContain("Echo: after crash");
      const restarted = processesWith(everythingTokenA);
      expect(restarted.length).toBeGreaterThan(0);
      expect(restarted).not.toContain(pid);
    });

    it("a server that cannot start is listed with the reason; disabling a connection stops its server and hides it from the agent", async () => {
      const broken = await api("/api/connections", { apiKey: orgA.apiKey, body: { provider: "broken" } });
      expect(broken.status).toBe(201);
      model.script({ toolCalls: [{ name: "nubabel_mcp_list", arguments: { provider: "broken" } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "list broken");
      expect(seen(2)).toContain("cannot start: missing config");
      expect((await api(`/api/connections/${broken.body.id as string}`, { method: "DELETE", apiKey: orgA.apiKey })).status).toBe(200);

      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "on" } } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "echo on");
      expect(processesWith(everythingTokenA).length).toBeGreaterThan(0);
      const { body } = await api("/api/connections", { apiKey: orgA.apiKey });
      const id = (body.connections as Array<{ id: string; provider: string }>).find((c) => c.provider === "everything")!.id;
      expect((await api(`/api/connections/${id}`, { method: "PATCH", body: { enabled: false }, apiKey: orgA.apiKey })).status).toBe(200);
      expect(processesWith(everythingTokenA)).toEqual([]);
      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "off" } } }] }, { text: "ok" });
      await delegate(orgA.apiKey, "echo off");
      expect(seen(2)).toContain('no enabled MCP connection for provider \\"everything\\"');
      expect(seen(2)).not.toContain("Echo: off");
      expect((await api(`/api/connections/${id}`, { method: "PATCH", body: { enabled: true }, apiKey: orgA.apiKey })).status).toBe(200);
    });

    it("the plaintext credential appears nowhere it should not: database, logs, API responses, traffic with the sidecar, the engine's environment", async () => {
      const plaintexts = [notionTokenA, everythingTokenA, everythingTokenB, httpTokenA];
      // Positive controls first, so a scan that reads nothing cannot pass.
      const { body } = await api("/api/connections", { apiKey: orgA.apiKey });
      const ids = (body.connections as Array<{ id: string; credentials: string[] }>).map((c) => c.id);
      expect((body.connections as Array<{ credentials: string[] }>)[0]!.credentials).toEqual(["BASE_URL", "NOTION_TOKEN"]);
      const traffic = toSidecar.text() + toNubabel.text();
      expect(traffic).toContain("Fake Notion bot");
      expect(toNubabel.exchanges.some((e) => e.path === "/api/sidecar/mcp/invoke")).toBe(true);
      expect(toSidecar.exchanges.some((e) => e.path === "/delegate")).toBe(true);
      const allLogs = logs.join("");
      expect(allLogs).toContain(ids[0]!);
      const enginePid = (sidecar.engine as unknown as { pid?: number }).pid;
      expect(enginePid).toBeGreaterThan(0);
      const engineEnv = [enginePid!, ...descendants(enginePid!)].map(environOf).join("\n");
      expect(engineEnv).toContain("OPENCODE");
      // The real servers did get their credential (in their own environment, nowhere else).
      expect(processesWith(notionTokenA).length + processesWith(everythingTokenB).length).toBeGreaterThan(0);

      let database: string;
      if (backend.kind === "shared") {
        const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
        await db.connect();
        try {
          const { rows: tables } = await db.query<{ schemaname: string; tablename: string }>(
            "select schemaname, tablename from pg_tables where schemaname in ('public', 'drizzle')",
          );
          const dumps: string[] = [];
          for (const t of tables) dumps.push(JSON.stringify((await db.query(`select * from "${t.schemaname}"."${t.tablename}"`)).rows));
          database = dumps.join("\n");
        } finally {
          await db.end();
        }
        expect(database).toContain(ids[0]!);
        expect(database).toMatch(/"sealed_credentials":"k1:/);
      } else {
        database = filesUnder(path.join(backend.env.NUBABEL_DATA_DIR!, "pglite")).toString("latin1");
        expect(database).toContain(ids[0]!);
      }

      for (const secret of plaintexts) {
        expect(database, "database").not.toContain(secret);
        expect(allLogs, "logs").not.toContain(secret);
        expect(responses.join("\n"), "API responses").not.toContain(secret);
        expect(traffic, "Nubabel ↔ sidecar").not.toContain(secret);
        expect(engineEnv, "engine environment").not.toContain(secret);
      }
    });

    // It runs the CLI, which opens the database itself: 43 s in a loaded suite, 62 s once.
    it("rotating the key with `nubabel keys rotate`: every credential decrypts under the new key alone, and tools still run", async () => {
      // Deploy the new key first (new current, old kept), then rotate, then drop the old key.
      await nubabel.close();
      await start({ NUBABEL_ENCRYPTION_KEY: `${k2},${k1}` });
      const storage: Record<string, string> = backend.kind === "shared" ? { DATABASE_URL: backend.env.DATABASE_URL! } : { NUBABEL_DATA_DIR: backend.env.NUBABEL_DATA_DIR! };
      const first = await cli(["keys", "rotate"], { ...storage, NUBABEL_ENCRYPTION_KEY: `${k2},${k1}` });
      expect(first.stderr).toBe("");
      expect(JSON.parse(first.stdout)).toEqual({ keyId: "k2", rotated: 4, alreadyCurrent: 0, skipped: 0 });
      const again = await cli(["keys", "rotate"], { ...storage, NUBABEL_ENCRYPTION_KEY: `${k2},${k1}` });
      expect(JSON.parse(again.stdout)).toEqual({ keyId: "k2", rotated: 0, alreadyCurrent: 4, skipped: 0 });
      // A CLI whose current key is not the running server's is refused rather than misreported.
      if (backend.kind === "embedded") {
        const stale = await cli(["keys", "rotate"], { ...storage, NUBABEL_ENCRYPTION_KEY: k1 });
        expect(stale.code).toBe(1);
        expect(stale.stderr).toMatch(/current key is "k2", not "k1"/);
      }

      await nubabel.close();
      await start({ NUBABEL_ENCRYPTION_KEY: k2 });
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "API-get-self", args: {} } }] },
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "rotated" } } }] },
        { text: "still working" },
      );
      expect(await delegate(orgA.apiKey, "after rotation")).toMatchObject({ status: "success", output: "still working" });
      expect(notionApi.requests.map((h) => h.authorization)).toEqual([`Bearer ${notionTokenA}`]);
      expect(seen(3)).toContain("Echo: rotated");
      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "globex-tools", toolName: "echo", args: { message: "B rotated" } } }] }, { text: "ok" });
      await delegate(orgB.apiKey, "B after rotation");
      expect(seen(2)).toContain("Echo: B rotated");

      // Without the new key nothing opens: the old key alone cannot read what rotation wrote.
      await nubabel.close();
      await start({ NUBABEL_ENCRYPTION_KEY: k1 });
      model.reset();
      model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "globex-tools", toolName: "echo", args: { message: "x" } } }] }, { text: "ok" });
      await delegate(orgB.apiKey, "old key");
      expect(seen(2)).not.toContain("Echo: x");
      expect(seen(2)).toContain("its credentials cannot be decrypted");
      expect(seen(2)).toContain("which is not in the keyring (known: k1)");
      await nubabel.close();
      await start({ NUBABEL_ENCRYPTION_KEY: k2 });
    }, 150_000);
  });
}
