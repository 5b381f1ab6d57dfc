import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiRun, ApiRunAccepted, DelegateResponse } from "@nubabel/contracts";
import { ModelServer, type RecordedRequest } from "@nubabel/testkit";
import { PgOrganizationStore } from "../src/adapters/postgres/organization-store.js";
import { runCli } from "../src/cli/main.js";
import { openPostgres, rowsOf, type Database } from "../src/db/database.js";
import { Organizations } from "../src/organizations/index.js";
import { backendEnv, hasInfra, tempDir } from "./fixtures/backends.js";
import { testSecrets } from "./fixtures/nubabel.js";
import { freePort, startService, waitHealthy, type ServiceProcess } from "./fixtures/processes.js";

/**
 * Issue 12, acceptance 3 and 4: one Nubabel over two real sidecars (each `npm run sidecar` with its
 * own engine), PostgreSQL and Redis, the scripted model. Sessions spread and stick; a sidecar
 * killed with SIGKILL is taken out of placement within the heartbeat timeout, its running run
 * fails, and its sessions move to the other one with their history; a drained sidecar takes no
 * new session and finishes its running turn.
 */
describe.skipIf(!hasInfra)("a pool of two sidecars (PostgreSQL + Redis)", () => {
  const secrets = testSecrets();
  const HEARTBEAT_TIMEOUT_MS = 3_000;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let database: Database;
  let model: ModelServer;
  let nubabelPort: number;
  let nubabel: ServiceProcess | undefined;
  const sidecars = new Map<string, { process?: ServiceProcess; port: number; data: ReturnType<typeof tempDir> }>();
  const keys: string[] = [];

  const nubabelUrl = () => `http://127.0.0.1:${nubabelPort}`;
  const startSidecar = async (url: string) => {
    const s = sidecars.get(url)!;
    s.process = startService("sidecar", {
      SIDECAR_PORT: String(s.port),
      SIDECAR_SHARED_SECRET: secrets.SIDECAR_SHARED_SECRET,
      NUBABEL_CALLBACK_URL: nubabelUrl(),
      SIDECAR_DATA_DIR: s.data.dir,
      MODEL_BASE_URL: model.url,
      MODEL_NAME: "scripted",
      REDIS_URL: backend.env.REDIS_URL!,
      REDIS_PREFIX: `${backend.env.REDIS_KEY_PREFIX}sidecar-${s.port}:`,
      LOG_LEVEL: "warn",
    });
    await waitHealthy(`${url}/health`, s.process);
  };
  const api = async (key: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${nubabelUrl()}${route}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const delegate = async (key: string, prompt: string, sessionId: string) => {
    const res = await api(key, "/api/delegate", { prompt, sessionId });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return DelegateResponse.parse(res.body);
  };
  const sidecarOf = async (runId: string) =>
    (await rowsOf<{ sidecar_url: string }>(database.db, sql`select sidecar_url from runs where id = ${runId}`))[0]?.sidecar_url;
  const pool = async () => ((await (await fetch(`${nubabelUrl()}/health`)).json()) as { sidecars: Array<{ url: string; ok: boolean; draining?: boolean }> }).sidecars;
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { SIDECAR_URLS: [...sidecars.keys()].join(","), SIDECAR_SHARED_SECRET: secrets.SIDECAR_SHARED_SECRET }, { write: (s: string) => out.push(s) }, { write: (s: string) => err.push(s) });
    return { code, out: out.join(""), err: err.join("") };
  };
  /** The text the model was given as the person's messages. */
  const userText = (r: RecordedRequest) => JSON.stringify(r.messages.filter((m: { role: string }) => m.role === "user"));
  /** The person's latest words: a restored history rides in the same message, before them. */
  const lastUserLine = (r: RecordedRequest): string => {
    const last = r.messages.filter((m: { role: string }) => m.role === "user").at(-1);
    if (typeof last?.content === "string") return last.content;
    const parts = (last?.content ?? []) as Array<{ type: string; text?: string }>;
    return parts.filter((p) => p.type === "text").at(-1)?.text ?? "";
  };

  beforeAll(async () => {
    backend = await backendEnv("shared");
    database = await openPostgres(backend.env.DATABASE_URL!);
    // Each answer names the prompt it answers, so concurrent turns on two engines tell themselves apart;
    // a prompt saying "slowly" takes 20 s (long enough to kill or drain its sidecar meanwhile).
    model = await ModelServer.start();
    model.respond((req) => {
      const line = lastUserLine(req);
      const said = /say (\w+)/.exec(line)?.[1] ?? "ok";
      return line.includes("slowly") ? { text: `slow ${said}`, delayMs: 20_000 } : { text: `answer ${said}` };
    });
    nubabelPort = await freePort();
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      sidecars.set(`http://127.0.0.1:${port}`, { port, data: tempDir(`pool-sidecar-${i}`) });
    }
    await Promise.all([...sidecars.keys()].map(startSidecar));
    for (const name of ["Ada", "Bo", "Cy", "Di", "Ed", "Flo"]) keys.push((await Organizations.create(new PgOrganizationStore(database.db), name)).apiKey);
    nubabel = startService("nubabel", {
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(nubabelPort),
      SIDECAR_URLS: [...sidecars.keys()].join(","),
      SIDECAR_HEARTBEAT_MS: "500",
      SIDECAR_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
      // The pool, not reconciliation, must be what fails a dead sidecar's run.
      RUN_LOST_AFTER_MS: "600000",
      LOG_LEVEL: "warn",
    });
    await waitHealthy(`${nubabelUrl()}/readyz`, nubabel);
    await vi.waitFor(async () => expect((await pool()).every((s) => s.ok)).toBe(true), { timeout: 10_000 });
  }, 240_000);

  afterAll(async () => {
    await nubabel?.stop();
    await Promise.all([...sidecars.values()].map((s) => s.process?.stop()));
    await model?.close();
    await database?.close();
    await backend?.cleanup();
    for (const s of sidecars.values()) s.data.remove();
  });

  /** Sessions made by the first test: [api key, session id, sidecar, the word it was told]. */
  const sessions: Array<{ key: string; sessionId: string; sidecar: string; word: string }> = [];

  it("spreads new sessions over both sidecars, and each follow-up reaches the one that owns its session", async () => {
    for (const [i, key] of keys.slice(0, 4).entries()) {
      const word = `word${i}`;
      const first = await delegate(key, `remember the word; say ${word}`, `pool-${i}`);
      expect(first.output).toBe(`answer ${word}`);
      sessions.push({ key, sessionId: `pool-${i}`, sidecar: (await sidecarOf(first.metadata.runId!))!, word });
    }
    expect(new Set(sessions.map((s) => s.sidecar))).toEqual(new Set(sidecars.keys()));
    for (const s of sessions) {
      const follow = await delegate(s.key, "what was the word? say again", s.sessionId);
      expect(await sidecarOf(follow.metadata.runId!)).toBe(s.sidecar);
      expect(follow.metadata.contextRestored).toBeUndefined();
      // Same OpenCode session: the model saw the first prompt again.
      const seen = model.requests.filter((r) => lastUserLine(r).includes("what was the word")).at(-1)!;
      expect(userText(seen)).toContain(s.word);
    }
  }, 120_000);

  it("fails the running run of a killed sidecar within the heartbeat timeout, places around it, and moves its sessions with their history", async () => {
    const victim = sessions[0]!.sidecar;
    const survivor = [...sidecars.keys()].find((u) => u !== victim)!;
    const key = sessions[0]!.key;
    // The organization's sidecar is preferred for its new session: the slow run lands on the victim.
    const slow = ApiRunAccepted.parse((await api(key, "/api/delegate", { prompt: "take it slowly; say late", sessionId: "pool-slow" }, { prefer: "respond-async" })).body);
    await vi.waitFor(async () => expect(await sidecarOf(slow.runId)).toBe(victim), { timeout: 10_000 });
    await vi.waitFor(() => expect(model.requests.some((r) => lastUserLine(r).includes("say late"))).toBe(true), { timeout: 20_000 });

    const killedAt = Date.now();
    await sidecars.get(victim)!.process!.kill();
    const failed = await vi.waitFor(
      async () => {
        const run = ApiRun.parse((await api(key, `/api/runs/${slow.runId}`)).body);
        expect(run.status).toBe("failed");
        return run;
      },
      { timeout: 20_000, interval: 200 },
    );
    // Heartbeats every 0.5 s, gone after 3 s of silence: well within 10 s, long before RUN_LOST_AFTER_MS.
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(failed.error?.code).toBe("sidecar_lost");
    expect(failed.reason).toMatch(/has not answered for \d+ s while running this; its answer is lost/);

    // New sessions go to the survivor, the organization's preference notwithstanding.
    const fresh = await delegate(key, "a new conversation; say fresh", "pool-after-kill");
    expect(await sidecarOf(fresh.metadata.runId!)).toBe(survivor);

    // A follow-up in a session the victim held: answered by the survivor, seeded with its history.
    const moved = sessions.find((s) => s.sidecar === victim)!;
    const follow = await delegate(moved.key, "do you still know the word? say still", moved.sessionId);
    expect(follow.output).toBe("answer still");
    expect(await sidecarOf(follow.metadata.runId!)).toBe(survivor);
    expect(follow.metadata.contextRestored).toMatchObject({ from: "history", messages: 4 });
    expect(follow.metadata.contextRestored!.reason).toMatch(/stopped answering/);
    const seen = model.requests.filter((r) => lastUserLine(r).includes("say still")).at(-1)!;
    expect(userText(seen)).toContain(moved.word);
    expect(userText(seen)).toContain(`answer ${moved.word}`);
    // The next follow-up stays in the new session: no second move.
    const again = await delegate(moved.key, "once more; say again2", moved.sessionId);
    expect(await sidecarOf(again.metadata.runId!)).toBe(survivor);
    expect(again.metadata.contextRestored).toBeUndefined();
    expect(again.metadata.opencodeSessionId).toBe(follow.metadata.opencodeSessionId);

    await startSidecar(victim);
    await vi.waitFor(async () => expect((await pool()).every((s) => s.ok)).toBe(true), { timeout: 10_000 });
  }, 180_000);

  it("drains a sidecar: no new session lands there, its running turn finishes, then it may stop", async () => {
    const key = keys[4]!;
    const slow = ApiRunAccepted.parse((await api(key, "/api/delegate", { prompt: "take it slowly; say drained", sessionId: "pool-drain" }, { prefer: "respond-async" })).body);
    // The hand-over records the sidecar once it accepted the run: a second or more on a busy machine.
    const drained = await vi.waitFor(
      async () => {
        const url = await sidecarOf(slow.runId);
        expect(url).toBeTruthy();
        return url!;
      },
      { timeout: 15_000, interval: 100 },
    );
    const other = [...sidecars.keys()].find((u) => u !== drained)!;
    const asked = await cli("sidecars", "drain", drained);
    expect(asked.code, asked.err).toBe(0);
    expect(JSON.parse(asked.out)).toMatchObject({ url: drained, draining: true, runs: 1 });
    const status = await cli("sidecars", "status");
    expect(JSON.parse(status.out)).toEqual(
      expect.arrayContaining([expect.objectContaining({ url: drained, draining: true, runs: 1 }), expect.objectContaining({ url: other, draining: false })]),
    );

    // Every new session goes to the other sidecar, at once (no heartbeat needed).
    for (const [i, k] of [keys[4]!, keys[5]!, keys[3]!].entries()) {
      const answer = await delegate(k, `while drained; say d${i}`, `pool-drained-${i}`);
      expect(await sidecarOf(answer.metadata.runId!)).toBe(other);
    }
    // A follow-up in a session the drained one holds moves, with its history.
    const held = sessions.find((s) => s.sidecar === drained && s.sessionId !== sessions[0]!.sessionId)!;
    const follow = await delegate(held.key, "still there? say moved", held.sessionId);
    expect(await sidecarOf(follow.metadata.runId!)).toBe(other);
    expect(follow.metadata.contextRestored?.reason).toMatch(/drained/);

    // The running turn finishes on the drained sidecar; `drain --wait` then says it is idle.
    const waited = await cli("sidecars", "drain", drained, "--wait", "--timeout", "60");
    expect(waited.code, waited.err).toBe(0);
    expect(waited.out).toContain('"idle":true');
    const done = ApiRun.parse((await api(key, `/api/runs/${slow.runId}`)).body);
    expect(done).toMatchObject({ status: "completed", output: "slow drained" });
    await sidecars.get(drained)!.process!.stop();
    await sleep(100);
    // Undo is refused by a stopped sidecar with a clear error, not a hang.
    const undo = await cli("sidecars", "drain", drained, "--undo");
    expect(undo.code).toBe(1);
    expect(undo.err).toMatch(new RegExp(`sidecar ${drained} unavailable: .*ECONNREFUSED`));
  }, 180_000);

  it("says which URL and flag are wrong", async () => {
    expect((await cli("sidecars", "drain")).code).toBe(2);
    expect((await cli("sidecars", "drain", "not a url")).err).toMatch(/needs the sidecar's URL/);
    expect((await cli("sidecars", "drain", [...sidecars.keys()][0]!, "--timeout", "-1")).err).toMatch(/--timeout/);
    expect((await cli("sidecars", "nope")).code).toBe(2);
  });
});
