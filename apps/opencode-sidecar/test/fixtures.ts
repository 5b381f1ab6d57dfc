import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { ModelServer } from "@nubabel/testkit";
import { Webhooks } from "@nubabel/contracts";
import { startSidecar, type Sidecar } from "../src/main.js";
import { CallbackReceiver } from "./receiver.js";

export interface RequestOptions {
  secret?: string;
  headers?: Record<string, string>;
  raw?: string;
  /** Another sidecar than the harness's. */
  base?: string;
}
export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** A request signed as Nubabel signs it. */
export async function signed(base: string, secret: string, method: "GET" | "POST", route: string, body?: unknown, opts: RequestOptions = {}): Promise<Answer> {
  const raw = opts.raw ?? (body === undefined ? "" : JSON.stringify(body));
  const res = await fetch(`${base}${route}`, {
    method,
    ...(method === "POST" ? { body: raw } : {}),
    headers: { ...(raw ? { "content-type": "application/json" } : {}), ...Webhooks.sign(opts.secret ?? secret, { direction: "nubabel-to-sidecar", method, path: route }, raw), ...opts.headers },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export interface Harness {
  model: ModelServer;
  receiver: CallbackReceiver;
  sidecar: Sidecar;
  secret: string;
  dataDir: string;
  /** Stops the sidecar (and its engine) and starts a new one on the same data folder. */
  restart(env?: Record<string, string>): Promise<void>;
  /** A signed POST to the sidecar, as Nubabel sends it. */
  post(route: string, body?: unknown, opts?: RequestOptions): Promise<Answer>;
  /** A signed GET (the empty body is what is signed). */
  get(route: string, opts?: RequestOptions): Promise<Answer>;
  /** The environment the harness starts its sidecar with, plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** A real sidecar on a real engine, talking to the scripted model and a recording receiver. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const secret = Webhooks.generateSecret();
  const model = await ModelServer.start();
  const receiver = await CallbackReceiver.start(secret);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "sidecar-test-"));
  const base = (extra: Record<string, string>) => ({
    SIDECAR_PORT: "0",
    SIDECAR_SHARED_SECRET: secret,
    NUBABEL_CALLBACK_URL: receiver.url,
    SIDECAR_DATA_DIR: dataDir,
    MODEL_BASE_URL: model.url,
    MODEL_NAME: "scripted",
    LOG_LEVEL: "silent",
    PROGRESS_TEXT_INTERVAL_MS: "50",
    CALLBACK_RETRIES: "2",
    // The test machines are small and shared: a loaded one may take long to start an engine.
    ENGINE_START_TIMEOUT_MS: "90000",
    // `SIDECAR_OMO=on npm test` runs the sidecar's suites with OhMyOpenCode loaded.
    ...(process.env.SIDECAR_OMO ? { SIDECAR_OMO: process.env.SIDECAR_OMO } : {}),
    ...extra,
  });
  let sidecar = await startSidecar(base(env));
  let starting: Promise<Sidecar> | undefined;
  const post: Harness["post"] = (route, body, opts = {}) => signed(opts.base ?? sidecar.url, secret, "POST", route, body, opts);
  const get: Harness["get"] = (route, opts = {}) => signed(opts.base ?? sidecar.url, secret, "GET", route, undefined, opts);
  return {
    model,
    receiver,
    get sidecar() {
      return sidecar;
    },
    secret,
    dataDir,
    post,
    get,
    env: (extra = {}) => base({ ...env, ...extra }),
    async restart(extra = env) {
      await sidecar.close();
      starting = startSidecar(base(extra));
      sidecar = await starting;
    },
    async close() {
      // A test that timed out mid-restart leaves a start in progress: close what it starts, too.
      sidecar = (await starting?.catch(() => undefined)) ?? sidecar;
      await sidecar.close();
      await receiver.close();
      await model.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const ORG = "org_testorg1";

export function delegateBody(h: Harness, sessionId: string, prompt: string, extra: Record<string, unknown> = {}) {
  return {
    prompt,
    session_id: sessionId,
    organizationId: ORG,
    callbacks: h.receiver.callbacks(sessionId),
    callbackToken: `token-for-${sessionId}`,
    ...extra,
  };
}

/**
 * One harness for a test file: started before the first test, closed after the last, with the
 * model script and the receiver's records cleared before each test.
 */
export function useHarness(env: Record<string, string>, set: (h: Harness) => void): void {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await startHarness(env);
    set(h);
  });
  afterAll(() => h?.close());
  beforeEach(() => {
    h?.model.reset();
    h?.receiver.reset();
  });
}
