import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiRun, ApiRunAccepted } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";

/**
 * The reconciler asks each sidecar about the runs believed running there in one request
 * (`POST /runs/query`), and run by run a sidecar older than that route (stand-in sidecar; the real
 * one answers the same route in the signatures and recovery suites).
 */
describe("reconciliation of running runs with their sidecar (stand-in sidecar)", () => {
  const secrets = testSecrets();
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close();
  });

  const start = async (sidecarOptions: { withoutRunsQuery?: boolean } = {}) => {
    const backend = await backendEnv("shared");
    open.push({ close: () => backend.cleanup() });
    const sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, turnDelayMs: 4_000, ...sidecarOptions });
    open.push(sidecar);
    const nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, RUN_RECONCILE_INTERVAL_MS: "300" });
    open.push(nubabel);
    const { apiKey } = await createOrganization(nubabel, "Acme");
    const submit = async (prompt: string) => {
      const res = await nubabel.api("/api/delegate", { body: { prompt }, apiKey, headers: { prefer: "respond-async" } });
      expect(res.status).toBe(202);
      return ApiRunAccepted.parse(await res.json()).runId;
    };
    const run = async (runId: string) => ApiRun.parse(await (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json());
    return { sidecar, nubabel, submit, run };
  };

  const lookups = (sidecar: FakeSidecar) => sidecar.signed.filter((s) => s.path.startsWith("/runs/") && s.path !== "/runs/query");

  it("asks about all of a sidecar's running runs in one request, and fails one it no longer knows as lost", async () => {
    const { sidecar, submit, run } = await start();
    const ids = await Promise.all(["one", "two", "three"].map(submit));
    // Runs unconfirmed for as long go in one query (submitted together, they mostly are).
    // The last admitted can be a pass later than the others: wait for all three to have been asked.
    await vi.waitFor(
      () => {
        expect(sidecar.queried.some((asked) => ids.filter((id) => asked.includes(id)).length >= 2)).toBe(true);
        expect(new Set(sidecar.queried.flat())).toEqual(new Set(ids));
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(lookups(sidecar)).toEqual([]);

    // As if the sidecar restarted without it: the next query does not find it.
    sidecar.runs.delete(ids[0]!);
    await vi.waitFor(async () => expect((await run(ids[0]!)).status).toBe("failed"), { timeout: 10_000, interval: 100 });
    expect((await run(ids[0]!)).error?.code).toBe("run_lost");
    // The others go on and end as their sidecar says.
    for (const id of ids.slice(1)) await vi.waitFor(async () => expect((await run(id)).status).toBe("completed"), { timeout: 15_000, interval: 100 });
  });

  it("asks a sidecar without POST /runs/query run by run, with the same outcome", async () => {
    const { sidecar, submit, run } = await start({ withoutRunsQuery: true });
    const ids = [await submit("one"), await submit("two")];
    await vi.waitFor(() => expect(new Set(lookups(sidecar).map((s) => s.path))).toEqual(new Set(ids.map((id) => `/runs/${id}`))), { timeout: 10_000, interval: 50 });
    sidecar.runs.delete(ids[0]!);
    await vi.waitFor(async () => expect((await run(ids[0]!)).error?.code).toBe("run_lost"), { timeout: 10_000, interval: 100 });
    await vi.waitFor(async () => expect((await run(ids[1]!)).status).toBe("completed"), { timeout: 15_000, interval: 100 });
  });
});
