import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Dialog, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ApiBudget, ApiRun, ApiRunAccepted, UsageReport } from "@nubabel/contracts";
import { backendEnv, tempDir } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { poll } from "./fixtures/poll.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";
import { everything } from "./mcp/servers.js";

/**
 * The web console in a real browser (Debian's Chromium, headless) against Nubabel, the real sidecar
 * and engine with the scripted model, on PostgreSQL + Redis and on the embedded PGlite. Screenshots
 * of the main pages go to `test-results/console/` for people to look at.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SHOTS = path.join(root, "test-results/console");
const hasChromium = existsSync(CHROMIUM);
/** The MCP connection's credential: shown by name in the console, its value never. */
const CREDENTIAL = "ev-console-secret-value";
if (!hasChromium && process.env.CI !== "true") {
  console.warn(`console.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH). Under CI=true this fails instead.`);
}

describe.skipIf(!hasChromium && process.env.CI !== "true").each(["shared", "embedded"] as const)("the web console in Chromium (%s)", (kind) => {
  const secrets = testSecrets();
  const data = tempDir("console");
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let org: { organizationId: string; apiKey: string };
  /** The key made in the console, shown there once. */
  let madeKey = "nbk_none-made";
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every URL the page asked for, and every complaint of the browser (a CSP violation would be one). */
  const requested: string[] = [];
  const complaints: string[] = [];

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${kind}-${name}.png`), fullPage: true });
  const start = async (prompt: string): Promise<ApiRunAccepted> => {
    const res = await nubabel.api("/api/delegate", { apiKey: org.apiKey, body: { prompt }, headers: { prefer: "respond-async" } });
    expect(res.status).toBe(202);
    return (await res.json()) as ApiRunAccepted;
  };
  const run = async (runId: string) => (await nubabel.api(`/api/runs/${runId}`, { apiKey: org.apiKey })).json() as Promise<ApiRun>;
  const nav = (name: string) => page.getByRole("navigation").getByRole("link", { name });
  const card = (runId: string) => page.locator("article.run", { has: page.locator(`h2:has-text("${runId}")`) });

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium; set CHROMIUM_PATH to use another`);
    // The console's files, as `npm start` and `npm test` build them (skipped when up to date).
    execFileSync(process.execPath, ["--import", "tsx", "scripts/build-console.ts"], { cwd: root, stdio: "inherit" });
    mkdirSync(SHOTS, { recursive: true });
    backend = await backendEnv(kind);
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
    // An MCP server from the registry, whose `echo` the approval policy holds for a person.
    const catalog = path.join(data.dir, "catalog.json");
    const server = { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] };
    writeFileSync(catalog, JSON.stringify({ providers: { everything: server } }));
    nubabel = await startTestNubabel({
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_URL: real.sidecar.url,
      NUBABEL_MCP_CATALOG: catalog,
    });
    org = await createOrganization(nubabel, `Console ${kind}`);
    const created = await nubabel.api("/api/connections", { apiKey: org.apiKey, body: { provider: "everything", name: "Everything", credentials: { EVERYTHING_TOKEN: CREDENTIAL } } });
    expect(created.status).toBe(201);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As root in a container Chromium's own sandbox cannot start; the network flags keep it from
      // calling home on a machine without the internet.
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("request", (request) => requested.push(request.url()));
    page.on("console", (message) => message.type() === "error" && complaints.push(message.text()));
    page.on("pageerror", (error) => complaints.push(error.message));
  }, 180_000);

  // A failing step leaves a picture of what the page showed then.
  beforeEach((test) => {
    test.onTestFailed(async () => {
      await page?.screenshot({ path: path.join(SHOTS, `${kind}-failed-${test.task.name.slice(0, 40).replace(/\W+/g, "-")}.png`), fullPage: true }).catch(() => undefined);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await nubabel?.close();
    await real?.close();
    await backend?.cleanup();
    data.remove();
  });

  it("signs in with the API key, kept for the tab only", async () => {
    await page.goto(`${nubabel.url}/console`);
    await expect.poll(() => page.url()).toBe(`${nubabel.url}/console/`);
    await page.getByLabel("Organization API key").fill("nbk_not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "refused" }).waitFor();
    await shot("sign-in");
    await page.getByLabel("Organization API key").fill(org.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
    expect(await page.evaluate("({ session: sessionStorage.length, local: localStorage.length, cookie: document.cookie })")).toEqual({ session: 1, local: 0, cookie: "" });
    expect(await context.cookies()).toEqual([]);
  });

  it("shows a run's progress live: the page is open before the run starts, and everything arrives over the stream", async () => {
    const sessionId = `console-live-${kind}`;
    await page.goto(`${nubabel.url}/console/#/session/${sessionId}`);
    await page.locator(".live.live").waitFor();
    await page.getByText("No runs in this session yet.").waitFor();
    real.model.script(
      { toolCalls: [{ name: "bash", arguments: { command: "echo console-live", description: "print a word" } }] },
      { text: "The shell said console-live, and this answer streams in.", chunks: 8, delayMs: 3_000 },
    );
    const res = await nubabel.api("/api/delegate", { apiKey: org.apiKey, body: { prompt: "run a command, then tell me", sessionId }, headers: { prefer: "respond-async" } });
    const live = (await res.json()) as ApiRunAccepted;
    const view = card(live.runId);
    await view.locator(".tool", { hasText: "bash" }).waitFor({ timeout: 30_000 });
    // Seen while the run still runs: the model holds its answer back for a moment.
    expect(await view.getByTestId("run-status").textContent()).toBe("running");
    expect(await view.getByRole("button", { name: `Stop run ${live.runId}` }).isVisible()).toBe(true);
    await shot("session-running");
    await view.getByTestId("run-output").filter({ hasText: "streams in" }).waitFor({ timeout: 30_000 });
    await expect.poll(() => view.getByTestId("run-status").textContent(), { timeout: 30_000 }).toBe("completed");
    expect(await view.locator(".tool", { hasText: "bash" }).textContent()).toContain("done");
    expect(await view.locator("dl.facts").textContent()).toMatch(/Tokens\d[\d,]*Cost\$\d/);
    await shot("session-completed");
    expect(await run(live.runId)).toMatchObject({ status: "completed", output: "The shell said console-live, and this answer streams in." });
  }, 90_000);

  it("shows a pending approval with Approve and Deny, and the run goes on once approved in the page", async () => {
    const policy = await nubabel.api("/api/policy", { method: "PUT", apiKey: org.apiKey, body: { approvals: [{ match: "everything/echo" }] } });
    expect(policy.status).toBe(200);
    real.model.script(
      { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "approved in the console" } } }] },
      { text: "Echoed, with a person's approval." },
    );
    const held = await start("echo something");
    await page.goto(`${nubabel.url}/console/#/session/${encodeURIComponent(held.sessionId)}`);
    const view = card(held.runId);
    await view.getByRole("button", { name: "Approve" }).waitFor({ timeout: 30_000 });
    expect(await view.getByTestId("run-status").textContent()).toBe("waiting approval");
    expect(await view.getByRole("button", { name: "Deny" }).isVisible()).toBe(true);
    expect(await view.locator(".approval").textContent()).toContain("everything / echo");
    await shot("session-approval");
    await view.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => view.getByTestId("run-status").textContent(), { timeout: 30_000 }).toBe("completed");
    await view.getByTestId("run-output").filter({ hasText: "a person's approval" }).waitFor();
    expect(await run(held.runId)).toMatchObject({ status: "completed", approvals: [{ status: "approved", decidedBy: "api" }] });
    await nubabel.api("/api/policy", { method: "PUT", apiKey: org.apiKey, body: { approvals: [] } });
  }, 90_000);

  it("stops a running run with Stop", async () => {
    real.model.script({ text: "never finished", delayMs: 60_000 });
    const slow = await start("take your time");
    await poll(() => run(slow.runId), (r) => r.status === "running");
    await page.goto(`${nubabel.url}/console/#/session/${encodeURIComponent(slow.sessionId)}`);
    const view = card(slow.runId);
    await expect.poll(() => view.getByTestId("run-status").textContent()).toBe("running");
    await view.getByRole("button", { name: `Stop run ${slow.runId}` }).click();
    await expect.poll(() => view.getByTestId("run-status").textContent(), { timeout: 30_000 }).toBe("aborted");
    expect(await view.getByRole("button", { name: /^Stop/ }).count()).toBe(0);
    expect((await run(slow.runId)).status).toBe("aborted");
    await shot("session-stopped");
  }, 90_000);

  it("lists sessions, connections (never a credential), usage and the budget, also on a phone", async () => {
    await nav("Sessions").click();
    await page.locator("tbody tr").first().waitFor();
    expect(await page.locator("tbody tr").count()).toBeGreaterThanOrEqual(2);
    await shot("sessions");

    await nav("Connections").click();
    const row = page.locator("tr", { hasText: "Everything" });
    await row.waitFor();
    expect(await row.textContent()).toContain("EVERYTHING_TOKEN");
    await row.getByRole("button", { name: "Test Everything" }).click();
    await row.getByText(/works: \d+ tools/).waitFor({ timeout: 30_000 });
    await row.getByRole("button", { name: "Disable Everything" }).click();
    await row.getByText("disabled").waitFor();
    await shot("connections");

    // Usage and the budget are another change's routes: until it lands they say "not available".
    for (const link of ["Usage", "Budget"]) {
      await nav(link).click();
      await page.getByRole("heading", { name: link, level: 1 }).waitFor();
      await page.locator(".chart, .chart-empty, .notice, dl.facts").first().waitFor();
      await shot(link.toLowerCase());
    }
    // The chart and the budget as drawn from answers of the contracts' shapes, whatever this server has.
    const day = (key: string, cost: number, runs: number) => ({ key, runs, inputTokens: 1000 * runs, outputTokens: 50 * runs, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost });
    const rows = [day("2026-11-01", 0.42, 3), day("2026-11-02", 1.1, 7), day("2026-11-03", 0.05, 1)];
    const total = { ...day("total", 1.57, 11) } as Record<string, unknown>;
    delete total.key;
    const report: UsageReport = { from: "2026-11-01T00:00:00.000Z", to: "2026-12-01T00:00:00.000Z", groupBy: "day", rows, total: total as UsageReport["total"] };
    const budget: ApiBudget = { monthlyCost: 2, warnAtPercent: 80, source: "organization", spent: { cost: 1.57, tokens: 11_550 }, periodStart: "2026-11-01T00:00:00.000Z", resetsAt: "2026-12-01T00:00:00.000Z", state: "ok" };
    await page.route(/\/api\/usage\?/, (route) => route.fulfill({ json: report }));
    await page.route(/\/api\/budget$/, (route) => route.fulfill({ json: budget }));
    await nav("Sessions").click();
    await nav("Usage").click();
    const chart = page.getByRole("img", { name: /^Cost by day: 2026-11-01 \$0\.42, 2026-11-02 \$1\.10, 2026-11-03 \$0\.05$/ });
    await chart.waitFor();
    expect(await chart.locator("rect.bar").count()).toBe(3);
    expect(await page.getByRole("table", { name: "Usage by day" }).locator("tbody tr").count()).toBe(3);
    await shot("usage-chart");
    await nav("Budget").click();
    await page.getByLabel("Monthly cost cap (USD)").waitFor();
    expect(await page.getByLabel("Monthly cost cap (USD)").inputValue()).toBe("2");
    expect(await page.locator("dl.facts").textContent()).toContain("$1.57");
    await shot("budget-set");
    await page.unrouteAll();

    await page.setViewportSize({ width: 390, height: 844 });
    await nav("Sessions").click();
    await page.locator("tbody tr").first().waitFor();
    // Nothing wider than the screen but the table, which scrolls inside its own box.
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shot("sessions-phone");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  it("makes an API key shown once, which works at once, and revokes it; the console's own key is not offered", async () => {
    // Revoking asks first; this test says yes.
    const accept = (dialog: Dialog) => void dialog.accept();
    page.on("dialog", accept);
    try {
      await nav("API keys").click();
      await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
      const own = page.locator("tbody tr", { hasText: "this console" });
      await own.waitFor();
      expect(await own.textContent()).toContain(org.apiKey.slice(0, 10));
      expect(await own.getByRole("button").count()).toBe(0);

      await page.getByLabel("Name (optional)").fill("ci robot");
      await page.getByRole("button", { name: "Make key" }).click();
      const shown = page.getByLabel("Copy it now: it is not shown again.");
      await shown.waitFor();
      madeKey = await shown.inputValue();
      expect(madeKey).toMatch(/^nbk_[A-Za-z0-9_-]{43}$/);
      // The form that had the focus is gone: the key has it, then the form again once dismissed.
      const focused = () => page.evaluate<string | undefined>("document.activeElement?.id");
      await expect.poll(focused).toBe("newKey");
      expect((await nubabel.api("/api/sessions", { apiKey: madeKey })).status).toBe(200);
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: nubabel.url });
      await page.getByRole("button", { name: "Copy" }).click();
      await page.getByRole("status").filter({ hasText: "Copied." }).waitFor();
      expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(madeKey);
      await shot("key-made");
      await page.getByRole("button", { name: "Done" }).click();
      await page.getByRole("button", { name: "Make key" }).waitFor();
      await expect.poll(focused).toBe("keyName");
      expect(await page.content()).not.toContain(madeKey);

      const row = page.locator("tbody tr", { hasText: "ci robot" });
      await row.getByRole("button", { name: `Revoke ci robot (${madeKey.slice(0, 10)}…)` }).click();
      await row.getByText(/^revoked/).waitFor();
      expect(await row.getByRole("button").count()).toBe(0);
      expect((await nubabel.api("/api/sessions", { apiKey: madeKey })).status).toBe(401);
      await shot("keys");
    } finally {
      page.off("dialog", accept);
    }
  });

  it("leaves no API key or credential in the page, its URLs or its storage after signing out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Organization API key").waitFor();
    expect(await page.inputValue("#apiKey")).toBe("");
    const stored = await page.evaluate<string>("JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie })");
    expect(stored).toBe(JSON.stringify({ session: {}, local: {}, cookie: "" }));
    expect(await context.cookies()).toEqual([]);
    const seen = [page.url(), await page.content(), stored, ...requested].join("\n");
    for (const secret of [org.apiKey, org.apiKey.slice(4), madeKey, CREDENTIAL]) expect(seen).not.toContain(secret);
    expect(page.url()).toBe(`${nubabel.url}/console/`);
    expect(requested.some((url) => url.includes("/stream?token="))).toBe(true);
    expect(requested.filter((url) => /[?&](key|apiKey|authorization)=/i.test(url))).toEqual([]);
    // The strict policy held: no inline script or style was refused, and nothing else failed.
    expect(complaints.filter((text) => !/status of 40[14]/.test(text))).toEqual([]);
    await shot("signed-out");
  });
});
