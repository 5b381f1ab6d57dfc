import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiBudget, ApiRun, ErrorBody, UsageReport } from "@nubabel/contracts";
import type { RecordedRequest } from "@nubabel/testkit";
import { backendEnv, hasInfra } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

/** The scripted model's price for the engine, in USD per million tokens (the sidecar's `MODEL_COST_*`). */
const PRICE = { input: 3, output: 15 };
const MODEL = "nubabel-model/scripted";

type Org = { apiKey: string; organizationId: string };

/**
 * Issue 15's usage and budgets on real parts: the real sidecar and engine with the scripted model
 * (priced through `MODEL_COST_*`), on PostgreSQL + Redis and on PGlite. Sums are checked against
 * the usage the scripted model itself reported for each call.
 */
for (const kind of ["shared", "embedded"] as const) {
  describe(`usage and budgets (${kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process"})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let real: RealSidecar;
    let nubabel: TestNubabel;
    let acme: Org;
    let globex: Org;

    beforeAll(async () => {
      backend = await backendEnv(kind);
      real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, { MODEL_COST_INPUT: String(PRICE.input), MODEL_COST_OUTPUT: String(PRICE.output) });
      nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: real.sidecar.url, NUBABEL_PORT: String(real.nubabelPort) });
      acme = await createOrganization(nubabel, "Acme");
      globex = await createOrganization(nubabel, "Globex");
      // Each answer names its prompt, so answers (and their output tokens) differ run to run.
      real.model.respond((r) => ({ text: `Answer to ${lastPrompt(r)}: ${"fine ".repeat(lastPrompt(r).length % 7)}` }));
    }, 120_000);
    afterAll(async () => {
      await nubabel?.close();
      await real?.close();
      await backend?.cleanup();
    });

    const delegate = (org: Org, body: Record<string, unknown>) => nubabel.api("/api/delegate", { apiKey: org.apiKey, body });
    const usage = async (org: Org, query: string) => {
      const res = await nubabel.api(`/api/usage?${query}`, { apiKey: org.apiKey });
      expect(res.status).toBe(200);
      return UsageReport.parse(await res.json());
    };
    const budget = async (org: Org, settings?: Record<string, unknown>, method = settings ? "PUT" : "GET") => {
      const res = await nubabel.api("/api/budget", { apiKey: org.apiKey, method, ...(settings ? { body: settings } : {}) });
      expect(res.status).toBe(200);
      return ApiBudget.parse(await res.json());
    };

    it("sums tokens and cost by day, user, model and session, as the model reported them", async () => {
      const runs = [
        { org: acme, tag: "acme-1", userId: "alice", sessionId: "s-alice" },
        { org: acme, tag: "acme-2 a longer question", userId: "alice", sessionId: "s-alice" },
        { org: acme, tag: "acme-3", userId: "bob", sessionId: "s-bob" },
        { org: acme, tag: "acme-4 no user", sessionId: "s-anon" },
        { org: globex, tag: "globex-1", userId: "alice", sessionId: "s-alice" },
      ];
      const ids: string[] = [];
      for (const { org, tag, ...rest } of runs) {
        const res = await delegate(org, { prompt: `please ${tag}`, ...rest });
        expect(res.status).toBe(200);
        ids.push(((await res.json()) as { metadata: { runId: string } }).metadata.runId);
      }

      // What the model reported, per call, grouped as the report groups the runs.
      const expected = (org: Org, keyOf: (run: (typeof runs)[number]) => string) => {
        const rows = new Map<string, { runs: number; inputTokens: number; outputTokens: number; cost: number }>();
        for (const run of runs.filter((r) => r.org === org)) {
          const calls = real.model.requests.filter((r) => lastPrompt(r) === `please ${run.tag}`);
          expect(calls.length).toBeGreaterThan(0);
          const row = rows.get(keyOf(run)) ?? { runs: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
          row.runs += 1;
          for (const { usage } of calls) {
            expect(usage, "the scripted model reports usage to the engine").toBeDefined();
            row.inputTokens += usage!.prompt_tokens;
            row.outputTokens += usage!.completion_tokens;
            row.cost += (usage!.prompt_tokens * PRICE.input + usage!.completion_tokens * PRICE.output) / 1e6;
          }
          rows.set(keyOf(run), row);
        }
        return rows;
      };
      const check = (report: UsageReport, rows: ReturnType<typeof expected>) => {
        expect(report.rows.map((r) => r.key)).toEqual([...rows.keys()].sort());
        for (const row of report.rows) {
          const want = rows.get(row.key)!;
          expect({ key: row.key, runs: row.runs, inputTokens: row.inputTokens, outputTokens: row.outputTokens }).toEqual({
            key: row.key,
            runs: want.runs,
            inputTokens: want.inputTokens,
            outputTokens: want.outputTokens,
          });
          expect(row.cost).toBeCloseTo(want.cost, 12);
          expect(row.cost).toBeGreaterThan(0);
          expect([row.reasoningTokens, row.cacheReadTokens, row.cacheWriteTokens]).toEqual([0, 0, 0]);
        }
        const total = [...rows.values()].reduce((t, r) => ({ runs: t.runs + r.runs, inputTokens: t.inputTokens + r.inputTokens, outputTokens: t.outputTokens + r.outputTokens, cost: t.cost + r.cost }));
        expect({ runs: report.total.runs, inputTokens: report.total.inputTokens, outputTokens: report.total.outputTokens }).toEqual({
          runs: total.runs,
          inputTokens: total.inputTokens,
          outputTokens: total.outputTokens,
        });
        expect(report.total.cost).toBeCloseTo(total.cost, 12);
      };

      const today = new Date().toISOString().slice(0, 10);
      const byDay = await usage(acme, "groupBy=day");
      check(byDay, expected(acme, () => today));
      // The default is this month so far, by day.
      const byDefault = await usage(acme, "");
      expect(byDefault.groupBy).toBe("day");
      expect(byDefault.from).toBe(`${today.slice(0, 8)}01T00:00:00.000Z`);
      expect(byDefault.rows).toEqual(byDay.rows);
      check(await usage(acme, "groupBy=user"), expected(acme, (r) => r.userId ?? "(none)"));
      check(await usage(acme, "groupBy=model"), expected(acme, () => MODEL));
      check(await usage(acme, "groupBy=session"), expected(acme, (r) => r.sessionId));
      // Another organization sees its own runs only, under the same user and session names.
      check(await usage(globex, "groupBy=user"), expected(globex, () => "alice"));
      check(await usage(globex, "groupBy=session"), expected(globex, () => "s-alice"));

      // The report is the runs' own usage, summed.
      const own = await Promise.all(ids.slice(0, 4).map(async (id) => ApiRun.parse(await (await nubabel.api(`/api/runs/${id}`, { apiKey: acme.apiKey })).json())));
      expect(own.reduce((n, r) => n + r.usage!.inputTokens, 0)).toBe(byDay.total.inputTokens);

      // A window is [from, to): one that ends before the runs, or starts after them, has none.
      const past = await usage(acme, `from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00%2B02:00&groupBy=user`);
      expect(past.rows).toEqual([]);
      expect(past.total).toEqual({ runs: 0, inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost: 0 });
      expect(past.to).toBe("2020-01-31T22:00:00.000Z");
      expect((await usage(acme, `from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).total.runs).toBe(0);

      // GET /api/budget shows this month's spend: cost, and tokens as input + output.
      const spent = await budget(acme);
      expect(spent).toMatchObject({ source: "none", state: "ok", warnAtPercent: 80, spent: { tokens: byDay.total.inputTokens + byDay.total.outputTokens } });
      expect(spent.spent.cost).toBeCloseTo(byDay.total.cost, 12);
    }, 120_000);

    it("answers 400 naming the field for a bad query or budget, and 401 without a key", async () => {
      const fieldsOf = async (res: Response) => {
        expect(res.status).toBe(400);
        const body = ErrorBody.parse(await res.json());
        expect(body.error.code).toBe("invalid_request");
        return (body.error.details as { fields: string[] }).fields;
      };
      expect(await fieldsOf(await nubabel.api("/api/usage?groupBy=week", { apiKey: acme.apiKey }))).toEqual(["groupBy"]);
      expect(await fieldsOf(await nubabel.api("/api/usage?from=yesterday", { apiKey: acme.apiKey }))).toEqual(["from"]);
      expect(await fieldsOf(await nubabel.api("/api/usage?to=2026-13-01", { apiKey: acme.apiKey }))).toEqual(["to"]);
      expect(await fieldsOf(await nubabel.api("/api/usage?limit=3", { apiKey: acme.apiKey }))).toEqual(["limit"]);
      expect(await fieldsOf(await nubabel.api("/api/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", { apiKey: acme.apiKey }))).toEqual(["to"]);
      // Any parameter given twice is refused by name, before its schema would misread the array.
      const twice = await nubabel.api("/api/usage?groupBy=day&groupBy=user", { apiKey: acme.apiKey });
      expect(twice.status).toBe(400);
      expect(ErrorBody.parse(await twice.json()).error).toMatchObject({ message: "invalid query: groupBy: must be given once", details: { fields: ["groupBy"] } });
      const put = (body: unknown) => nubabel.api("/api/budget", { apiKey: acme.apiKey, method: "PUT", body });
      expect(await fieldsOf(await put({ monthlyCost: -1 }))).toEqual(["monthlyCost"]);
      expect(await fieldsOf(await put({ monthlyTokens: 1.5 }))).toEqual(["monthlyTokens"]);
      expect(await fieldsOf(await put({ warnAtPercent: 0 }))).toEqual(["warnAtPercent"]);
      expect(await fieldsOf(await put({ monthlyCosts: 5 }))).toEqual(["monthlyCosts"]);
      // JSON reads 1e309 as Infinity, which is no cap: said as such, not as "expected number, received number".
      const huge = await put('{"monthlyCost":1e309}');
      expect(huge.status).toBe(400);
      expect(ErrorBody.parse(await huge.json()).error).toMatchObject({
        code: "invalid_request",
        message: "invalid body: monthlyCost: must be a finite number (this one is too large)",
        details: { fields: ["monthlyCost"] },
      });
      expect((await nubabel.api("/api/usage")).status).toBe(401);
      expect((await nubabel.api("/api/budget", { method: "PUT", body: { monthlyCost: 1 } })).status).toBe(401);
    });

    it("refuses the run after a tiny budget is crossed with 402, and lets the next through once it is raised", async () => {
      const initech = await createOrganization(nubabel, "Initech");
      const set = await budget(initech, { monthlyCost: 0.000001, warnAtPercent: 50 });
      expect(set).toMatchObject({ monthlyCost: 0.000001, warnAtPercent: 50, source: "organization", state: "ok", spent: { cost: 0, tokens: 0 } });
      const next = new Date();
      const resetsAt = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1)).toISOString();
      expect(set.resetsAt).toBe(resetsAt);

      // Under the cap when it starts: the run goes on, and its cost crosses the cap.
      expect((await delegate(initech, { prompt: "please initech-1" })).status).toBe(200);
      const crossed = await budget(initech);
      expect(crossed.state).toBe("exceeded");
      expect(crossed.spent.cost).toBeGreaterThan(0.000001);

      // The next one is refused before anything is stored: the budget, the spend, the reset.
      const before = real.model.requests.length;
      for (const headers of [{}, { prefer: "respond-async" }] as Array<Record<string, string>>) {
        const refused = await nubabel.api("/api/delegate", { apiKey: initech.apiKey, body: { prompt: "please initech-2", sessionId: "s-refused" }, headers });
        expect(refused.status).toBe(402);
        const body = ErrorBody.parse(await refused.json());
        expect(body.error.code).toBe("budget_exceeded");
        expect(body.error.message).toContain("monthly budget");
        expect(body.error.details).toEqual({ budget: { monthlyCost: 0.000001 }, spent: crossed.spent, resetsAt });
      }
      expect(real.model.requests.length).toBe(before);
      expect((await nubabel.api("/api/sessions/s-refused", { apiKey: initech.apiKey })).status).toBe(404);
      expect((await usage(initech, "groupBy=user")).total.runs).toBe(1);
      // Other organizations are not concerned.
      expect((await delegate(globex, { prompt: "please globex-2" })).status).toBe(200);

      // Raised: the next run goes through; a cap on tokens (input + output) refuses alike.
      expect((await budget(initech, { monthlyCost: 1 })).state).toBe("ok");
      expect((await delegate(initech, { prompt: "please initech-3" })).status).toBe(200);
      const tokens = (await budget(initech)).spent.tokens;
      expect((await budget(initech, { monthlyTokens: tokens })).state).toBe("exceeded");
      const byTokens = await delegate(initech, { prompt: "please initech-4" });
      expect(byTokens.status).toBe(402);
      expect((ErrorBody.parse(await byTokens.json()).error.details as { budget: unknown }).budget).toEqual({ monthlyTokens: tokens });
      expect((await budget(initech, { monthlyTokens: tokens * 4, warnAtPercent: 20 })).state).toBe("warning");
      // DELETE drops the organization's own budget: no default here, so no cap.
      expect(await budget(initech, undefined, "DELETE")).toMatchObject({ source: "none", state: "ok" });
      expect((await delegate(initech, { prompt: "please initech-5" })).status).toBe(200);
      // Another organization's budget was never touched.
      expect((await budget(acme)).source).toBe("none");
    }, 120_000);

    it.runIf(kind === "shared" && hasInfra)("applies the operator's default to organizations without their own budget", async () => {
      // A second instance on the same database with a default cap; submissions are refused before any sidecar is asked.
      const second = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: "http://127.0.0.1:9", NUBABEL_DEFAULT_MONTHLY_TOKENS: "1", NUBABEL_DEFAULT_BUDGET_WARN_PERCENT: "90" });
      try {
        const get = async (org: Org) => ApiBudget.parse(await (await second.api("/api/budget", { apiKey: org.apiKey })).json());
        expect(await get(globex)).toMatchObject({ monthlyTokens: 1, warnAtPercent: 90, source: "default", state: "exceeded" });
        const refused = await second.api("/api/delegate", { apiKey: globex.apiKey, body: { prompt: "past the default" } });
        expect(refused.status).toBe(402);
        expect((ErrorBody.parse(await refused.json()).error.details as { budget: unknown }).budget).toEqual({ monthlyTokens: 1 });
        // An organization's own budget wins over the default.
        await budget(globex, { monthlyCost: 100 });
        expect(await get(globex)).toMatchObject({ monthlyCost: 100, warnAtPercent: 90, source: "organization", state: "ok" });
        expect((await get(globex)).monthlyTokens).toBeUndefined();
      } finally {
        await second.close();
      }
    }, 60_000);
  });
}

/** The text of the call's last user message (the run's prompt). */
function lastPrompt(r: RecordedRequest): string {
  const content = r.messages.filter((m: { role: string }) => m.role === "user").at(-1)?.content;
  const text = typeof content === "string" ? content : Array.isArray(content) ? content.map((p: { text?: string }) => p.text ?? "").join("") : "";
  return text.trim();
}
