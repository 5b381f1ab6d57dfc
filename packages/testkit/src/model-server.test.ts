import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ModelServer } from "./model-server.js";
import type { Json } from "./types.js";

const server = await ModelServer.start();
afterAll(() => server.close());
beforeEach(() => server.reset());

const user = (text: string) => ({ model: "scripted", messages: [{ role: "user", content: text }] });

function post(body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}

/** Reads an SSE response into its parsed `data:` payloads, checking it ends with [DONE]. */
async function chunks(res: Response): Promise<Json[]> {
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const data = (await res.text())
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length));
  expect(data.at(-1)).toBe("[DONE]");
  return data.slice(0, -1).map((d) => JSON.parse(d));
}

describe("streaming text", () => {
  it("sends the text in the requested number of deltas, then stop and usage", async () => {
    server.script({ text: "hello world!", chunks: 4 });
    const res = await post({ ...user("hi"), stream: true, stream_options: { include_usage: true } });
    const all = await chunks(res);
    const contents = all.flatMap((c) => c.choices).map((c) => c.delta.content).filter(Boolean);
    expect(contents).toEqual(["hel", "lo ", "wor", "ld!"]);
    expect(all.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(all.at(-2).choices[0].finish_reason).toBe("stop");
    expect(all.at(-1).choices).toEqual([]);
    expect(all.at(-1).usage.total_tokens).toBeGreaterThan(0);
    expect(server.requests.at(-1)!.usage).toEqual(all.at(-1).usage);
  });

  it("omits the usage chunk unless asked", async () => {
    const all = await chunks(await post({ ...user("hi"), stream: true }));
    expect(all.some((c) => "usage" in c)).toBe(false);
    expect(server.requests.at(-1)!.usage).toBeUndefined();
    expect(all.map((c) => c.choices[0].delta.content ?? "").join("")).toBe("ok");
  });
});

describe("tool calls", () => {
  const calls = [
    { name: "read", arguments: { filePath: "/tmp/a.txt", limit: 10 }, id: "call_1" },
    { name: "glob", arguments: { pattern: "**/*.ts" } },
  ];

  it("streams calls that reassemble into the right ids, names and arguments", async () => {
    server.script({ toolCalls: calls, text: "let me look" });
    const all = await chunks(await post({ ...user("look"), stream: true }));
    const assembled: { id?: string; name?: string; args: string }[] = [];
    let text = "";
    for (const choice of all.flatMap((c) => c.choices)) {
      text += choice.delta.content ?? "";
      for (const d of choice.delta.tool_calls ?? []) {
        const slot = (assembled[d.index] ??= { args: "" });
        if (d.id) slot.id = d.id;
        if (d.function?.name) slot.name = d.function.name;
        slot.args += d.function?.arguments ?? "";
      }
    }
    expect(text).toBe("let me look");
    expect(assembled.map((a) => a.name)).toEqual(["read", "glob"]);
    expect(assembled[0]!.id).toBe("call_1");
    expect(assembled[1]!.id).toMatch(/^call_/);
    expect(assembled.map((a) => JSON.parse(a.args))).toEqual(calls.map((c) => c.arguments));
    const argumentDeltas = all.filter((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments);
    expect(argumentDeltas.length).toBeGreaterThan(2);
    expect(all.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("tool_calls");
  });

  it("answers non-streaming requests with a whole completion", async () => {
    server.script({ toolCalls: calls.slice(0, 1) });
    const body = (await (await post(user("look"))).json()) as Json;
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0].finish_reason).toBe("tool_calls");
    expect(body.choices[0].message.tool_calls[0]).toEqual({
      id: "call_1",
      type: "function",
      function: { name: "read", arguments: JSON.stringify(calls[0]!.arguments) },
    });
  });
});

describe("errors and timing", () => {
  it("sends the status, an OpenAI error body and Retry-After", async () => {
    server.script({ error: { status: 429, message: "slow down", retryAfterSeconds: 7 }, delayMs: 0 }, { error: { status: 503 } });
    const limited = await post({ ...user("hi"), stream: true });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toEqual({ error: { message: "slow down", type: "rate_limit_exceeded", code: 429 } });
    const down = await post(user("hi"));
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBeNull();
    expect(((await down.json()) as Json).error.type).toBe("server_error");
  });

  it("waits delayMs before the first byte", async () => {
    server.script({ text: "late", delayMs: 300 });
    const started = Date.now();
    const res = await post(user("hi"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(((await res.json()) as Json).choices[0].message.content).toBe("late");
  });

  it("hangs until the client gives up", async () => {
    server.script({ hang: true });
    await expect(post(user("hi"), { signal: AbortSignal.timeout(200) })).rejects.toThrow(/abort|timeout/i);
    expect(server.requests).toHaveLength(1);
  });
});

describe("queue, responder and records", () => {
  it("answers in script order, then with the default reply", async () => {
    server.script({ text: "one" }, { text: "two" });
    expect(server.pending()).toBe(2);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(((await (await post(user(`q${i}`))).json()) as Json).choices[0].message.content);
    expect(answers).toEqual(["one", "two", "ok"]);
    expect(server.pending()).toBe(0);
  });

  it("asks the responder first and falls through when it returns undefined", async () => {
    server.script({ text: "queued" });
    server.respond((req) => (req.messages[0].content === "ping" ? { text: "pong" } : undefined));
    const ask = async (q: string) => ((await (await post(user(q))).json()) as Json).choices[0].message.content;
    expect(await ask("ping")).toBe("pong");
    expect(await ask("other")).toBe("queued");
    expect(server.pending()).toBe(0);
  });

  it("records what was sent", async () => {
    const tools = [{ type: "function", function: { name: "read", parameters: { type: "object" } } }];
    const before = Date.now();
    await (await post({ ...user("hi"), tools, stream: true })).text();
    const [req] = server.requests;
    expect(req).toMatchObject({ model: "scripted", stream: true, auxiliary: false, tools, messages: [{ role: "user", content: "hi" }] });
    expect(req!.body.tools).toEqual(tools);
    expect(req!.receivedAt).toBeGreaterThanOrEqual(before);
    expect(req!.id).toBeGreaterThan(0);
  });

  it("waitForRequests resolves when enough arrived and times out clearly", async () => {
    const waiting = server.waitForRequests(2, 2000);
    await (await post(user("a"))).text();
    await (await post(user("b"))).text();
    expect((await waiting).map((r) => r.messages[0].content)).toEqual(["a", "b"]);
    await expect(server.waitForRequests(3, 50)).rejects.toThrow(/expected ≥3 main request\(s\) within 50 ms, got 2/);
  });

  it("reset clears queue, responder and records", async () => {
    server.script({ text: "x" });
    server.respond(() => ({ text: "y" }));
    await (await post(user("a"))).text();
    server.reset();
    expect([server.pending(), server.requests.length]).toEqual([0, 0]);
    expect(((await (await post(user("a"))).json()) as Json).choices[0].message.content).toBe("ok");
  });
});

describe("routes", () => {
  it("lists the model and 404s the rest", async () => {
    const models = (await (await fetch(`${server.url}/models`)).json()) as Json;
    expect(models.data.map((m: Json) => m.id)).toEqual(["scripted"]);
    const missing = await fetch(`${server.url}/embeddings`, { method: "POST", body: "{}" });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Json).error.message).toMatch(/no route/);
  });

  it("rejects a body that is not JSON", async () => {
    const res = await fetch(`${server.url}/chat/completions`, { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
  });
});

describe("a server left running", () => {
  it("refuses a body over its bound with 413 and goes on serving", async () => {
    const res = await post({ ...user("x".repeat(33 * 1024 * 1024)) });
    expect(res.status).toBe(413);
    expect(server.requests).toHaveLength(0);
    expect((await post(user("after"))).status).toBe(200);
  });

  it("keeps no record of requests when told not to", async () => {
    const quiet = await ModelServer.start({ keepRequests: false, defaultReply: { text: "quiet" } });
    try {
      const res = await fetch(`${quiet.url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(user("hi")) });
      expect(((await res.json()) as Json).choices[0].message.content).toBe("quiet");
      expect(quiet.requests).toHaveLength(0);
      expect(quiet.auxiliaryRequests).toHaveLength(0);
    } finally {
      await quiet.close();
    }
  });
});
