import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiRun, ApiRunAccepted } from "@nubabel/contracts";
import { ModelServer, type RecordedRequest } from "@nubabel/testkit";
import { PgOrganizationStore } from "../src/adapters/postgres/organization-store.js";
import { openPostgres } from "../src/db/database.js";
import { Organizations } from "../src/organizations/index.js";
import { backendEnv, hasInfra, tempDir } from "./fixtures/backends.js";
import { testSecrets } from "./fixtures/nubabel.js";
import { freePort, startService, waitHealthy, type ServiceProcess } from "./fixtures/processes.js";

/**
 * Issue 8, acceptance 5: Nubabel (`npm run nubabel`) and the sidecar (`npm run sidecar`) as separate
 * processes, each killed with SIGKILL mid-turn, on the real engine with the scripted model.
 */
for (const kind of ["shared", "embedded"] as const) {
  describe(`runs survive SIGKILL (${kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process"})`, () => {
    const secrets = testSecrets();
    const sidecarData = tempDir("recovery-sidecar");
    const nubabelData = tempDir("recovery-nubabel");
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let model: ModelServer;
    let nubabelPort: number;
    let sidecarPort: number;
    let apiKey: string;
    let nubabel: ServiceProcess | undefined;
    let sidecar: ServiceProcess | undefined;

    const startNubabelProcess = async () => {
      nubabel = startService("nubabel", {
        ...backend.env,
        ...secrets,
        NUBABEL_PORT: String(nubabelPort),
        NUBABEL_DATA_DIR: nubabelData.dir,
        SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
        RUN_RECONCILE_INTERVAL_MS: "1000",
        RUN_LOST_AFTER_MS: "5000",
        LOG_LEVEL: "warn",
      });
      await waitHealthy(`http://127.0.0.1:${nubabelPort}/livez`, nubabel);
    };
    const startSidecarProcess = async () => {
      sidecar = startService("sidecar", {
        SIDECAR_PORT: String(sidecarPort),
        SIDECAR_SHARED_SECRET: secrets.SIDECAR_SHARED_SECRET,
        NUBABEL_CALLBACK_URL: `http://127.0.0.1:${nubabelPort}`,
        SIDECAR_DATA_DIR: sidecarData.dir,
        MODEL_BASE_URL: model.url,
        MODEL_NAME: "scripted",
        ...(backend.env.REDIS_URL ? { REDIS_URL: backend.env.REDIS_URL, REDIS_PREFIX: `${backend.env.REDIS_KEY_PREFIX}sidecar:` } : {}),
        LOG_LEVEL: "warn",
      });
      await waitHealthy(`http://127.0.0.1:${sidecarPort}/health`, sidecar);
    };
    const api = async (route: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${nubabelPort}${route}`, {
        method: body === undefined ? "GET" : "POST",
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const runOf = async (runId: string) => ApiRun.parse((await api(`/api/runs/${runId}`)).body);
    const history = async (sessionId: string) => ((await api(`/api/sessions/${sessionId}`)).body as { messages: Array<{ role: string; content: string }> }).messages;
    const userText = (r: RecordedRequest) => JSON.stringify(r.messages.filter((m: { role: string }) => m.role === "user"));

    beforeAll(async () => {
      backend = await backendEnv(kind);
      model = await ModelServer.start();
      nubabelPort = await freePort();
      sidecarPort = await freePort();
      if (backend.env.DATABASE_URL) {
        const database = await openPostgres(backend.env.DATABASE_URL);
        apiKey = (await Organizations.create(new PgOrganizationStore(database.db), "Acme")).apiKey;
        await database.close();
      }
      await startSidecarProcess();
      await startNubabelProcess();
      // On the embedded default, the development organization Nubabel made at start.
      apiKey ??= (JSON.parse(readFileSync(path.join(nubabelData.dir, "dev-organization.json"), "utf8")) as { apiKey: string }).apiKey;
    }, 180_000);
    afterAll(async () => {
      await nubabel?.stop();
      await sidecar?.stop();
      await model?.close();
      await backend?.cleanup();
      sidecarData.remove();
      nubabelData.remove();
    });

    it("finishes a run whose Nubabel was killed mid-turn, with its answer stored once", async () => {
      model.reset();
      model.script({ text: "answered while Nubabel was down", delayMs: 3_000 });
      const accepted = ApiRunAccepted.parse((await api("/api/delegate", { prompt: "survive a crash" }, { prefer: "respond-async" })).body);
      await model.waitForRequests(1, 30_000);
      await nubabel!.kill();
      // The turn ends while Nubabel is down; the sidecar keeps its result until someone takes it.
      await sleep(4_000);
      await startNubabelProcess();
      const done = await vi.waitFor(
        async () => {
          const r = await runOf(accepted.runId);
          expect(r.status).toBe("completed");
          return r;
        },
        { timeout: 30_000, interval: 250 },
      );
      expect(done.output).toBe("answered while Nubabel was down");
      const messages = await history(accepted.sessionId);
      expect(messages.map((m) => [m.role, m.content])).toEqual([
        ["user", "survive a crash"],
        ["assistant", "answered while Nubabel was down"],
      ]);
    }, 120_000);

    it("fails a run whose sidecar was killed mid-turn within a minute, and a follow-up resumes its context", async () => {
      model.reset();
      model.script({ text: "never delivered", delayMs: 20_000 });
      const sessionId = `crash-${Date.now()}`;
      const accepted = ApiRunAccepted.parse((await api("/api/delegate", { prompt: "the code word is pelican", sessionId }, { prefer: "respond-async" })).body);
      await model.waitForRequests(1, 30_000);
      const killedAt = Date.now();
      await sidecar!.kill();
      const failed = await vi.waitFor(
        async () => {
          const r = await runOf(accepted.runId);
          expect(r.status).toBe("failed");
          return r;
        },
        { timeout: 60_000, interval: 500 },
      );
      expect(Date.now() - killedAt).toBeLessThan(60_000);
      expect(failed.reason).toMatch(/sidecar/);

      await startSidecarProcess();
      model.reset();
      model.script({ text: "you said pelican" });
      const follow = await api("/api/delegate", { prompt: "what was the code word?", sessionId });
      expect(follow.status).toBe(200);
      expect((follow.body as { output: string }).output).toBe("you said pelican");
      // The engine kept the session: the first prompt is in the context of the follow-up.
      expect(userText(model.requests.at(-1)!)).toContain("pelican");
    }, 150_000);
  });
}
