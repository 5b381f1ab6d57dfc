import { readFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { isAuxiliary } from "./auxiliary.js";
import { ModelServer } from "./model-server.js";

// A title-generation body exactly as opencode-ai 1.18.33 sent it for the first prompt "hi".
const titleRequest = JSON.parse(readFileSync(new URL("./fixtures/title-request.json", import.meta.url), "utf8"));

const server = await ModelServer.start();
afterAll(() => server.close());

it("recognises the engine's title request and not an agent turn", () => {
  expect(isAuxiliary(titleRequest)).toBe(true);
  expect(isAuxiliary({ messages: [{ role: "system", content: "You are opencode, an interactive CLI tool" }, { role: "user", content: "hi" }] })).toBe(false);
  // A user merely quoting the marker is not a side call.
  expect(isAuxiliary({ messages: [{ role: "user", content: "You are a title generator" }] })).toBe(false);
  expect(isAuxiliary({ messages: [{ role: "system", content: [{ type: "text", text: "You are a context summarization agent." }] }] })).toBe(true);
  expect(isAuxiliary(null)).toBe(false);
});

it("answers auxiliary requests without consuming the queue", async () => {
  server.script({ text: "the real answer" });
  const res = await fetch(`${server.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(titleRequest),
  });
  const text = (await res.text())
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta.content ?? "")
    .join("");
  expect(text).toBe("Test session");
  expect(server.pending()).toBe(1);
  expect(server.requests).toHaveLength(0);
  expect(server.auxiliaryRequests).toHaveLength(1);
  expect(server.auxiliaryRequests[0]).toMatchObject({ auxiliary: true, stream: true, tools: [] });
});
