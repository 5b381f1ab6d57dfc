import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiSessionList, ErrorBody } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";

describe("GET /api/sessions", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let acme: { organizationId: string; apiKey: string };
  let globex: { organizationId: string; apiKey: string };

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
    acme = await createOrganization(nubabel, "Acme");
    globex = await createOrganization(nubabel, "Globex");
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  /** Opens a session the way a browser does before its first prompt. */
  const open = async (apiKey: string, id: string) => expect((await nubabel.api(`/api/sessions/${id}/stream-token`, { method: "POST", apiKey })).status).toBe(200);
  const list = async (query: string, apiKey = acme.apiKey) => {
    const res = await nubabel.api(`/api/sessions${query}`, { apiKey });
    expect(res.status).toBe(200);
    return (await res.json()) as ApiSessionList;
  };

  it("lists the organization's own sessions newest first, a page at a time, without their history", async () => {
    for (const id of ["first", "second", "third"]) await open(acme.apiKey, id);
    await open(globex.apiKey, "theirs");
    const one = await list("?limit=2");
    expect(one.sessions.map((s) => s.id)).toEqual(["third", "second"]);
    expect(one.sessions[0]).toMatchObject({ organizationId: acme.organizationId, state: { status: "created" } });
    expect(one.sessions[0]).not.toHaveProperty("messages");
    const two = await list(`?limit=2&cursor=${one.nextCursor}`);
    expect(two.sessions.map((s) => s.id)).toEqual(["first"]);
    expect(two.nextCursor).toBeUndefined();
    expect((await list("", globex.apiKey)).sessions.map((s) => s.id)).toEqual(["theirs"]);
  });

  it("refuses a missing key, a bad limit and a cursor it did not hand out", async () => {
    expect((await nubabel.api("/api/sessions")).status).toBe(401);
    for (const query of ["?limit=0", "?limit=201", "?cursor=bm9wZQ", "?other=1"]) {
      const res = await nubabel.api(`/api/sessions${query}`, { apiKey: acme.apiKey });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_request");
    }
  });

  it("says why a limit is refused: given twice, or not a whole number in range", async () => {
    const message = async (query: string) => {
      const res = await nubabel.api(`/api/sessions${query}`, { apiKey: acme.apiKey });
      expect(res.status, query).toBe(400);
      const { error } = (await res.json()) as ErrorBody;
      expect(error.details, query).toEqual({ fields: ["limit"] });
      return error.message;
    };
    expect(await message("?limit=1&limit=2")).toBe("invalid query: limit: must be given once");
    for (const query of ["?limit=abc", "?limit=1.5", "?limit=0", "?limit=201"]) expect(await message(query)).toBe("invalid query: limit: must be a whole number from 1 to 200");
  });
});
