import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "@nubabel/contracts";
import { freshDatabase, hasInfra } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startTcpProxy } from "./fixtures/tcp-proxy.js";

describe.runIf(hasInfra)("PostgreSQL unreachable", () => {
  const secrets = testSecrets();
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let apiKey: string;

  beforeAll(async () => {
    db = await freshDatabase();
    const url = new URL(db.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    nubabel = await startTestNubabel({ ...secrets, DATABASE_URL: url.toString(), SIDECAR_URL: sidecar.url });
    apiKey = (await createOrganization(nubabel, "Acme")).apiKey;
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await proxy?.stop();
    await db?.drop();
  });

  it("reports 503 on /health and on requests, with a clear code, instead of a 500", async () => {
    expect((await nubabel.api("/api/delegate", { body: { prompt: "before" }, apiKey })).status).toBe(200);
    await proxy.stop();
    const health = await nubabel.api("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unhealthy", database: { ok: false } });
    const res = await nubabel.api("/api/delegate", { body: { prompt: "after" }, apiKey });
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorBody).error.code).toBe("database_unavailable");
  });
});
