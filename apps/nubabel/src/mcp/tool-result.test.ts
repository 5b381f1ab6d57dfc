import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { asToolError, describeError, fromCallResult } from "./tool-result.js";

describe("tool results", () => {
  it("keeps content and structured content, and the tool's own error flag", () => {
    expect(fromCallResult({ content: [{ type: "text", text: "hi" }], structuredContent: { n: 1 }, isError: false, _meta: {} })).toEqual({
      result: { content: [{ type: "text", text: "hi" }], structuredContent: { n: 1 } },
      isError: false,
    });
    expect(fromCallResult({ content: [], isError: true }).isError).toBe(true);
    expect(fromCallResult({ toolResult: { legacy: true } }).result.content).toEqual([{ type: "text", text: '{"legacy":true}' }]);
  });

  it("turns a JSON-RPC error for the call into a readable tool error", () => {
    const answer = asToolError(new McpError(ErrorCode.InvalidParams, "Tool echo: invalid arguments"));
    expect(answer).toEqual({ result: { content: [{ type: "text", text: "MCP error -32602: Tool echo: invalid arguments" }] }, isError: true });
    expect(asToolError(new McpError(ErrorCode.InternalError, "upstream said no"))?.isError).toBe(true);
  });

  it("leaves timeouts, closed connections and other failures to the pool", () => {
    expect(asToolError(new McpError(ErrorCode.RequestTimeout, "Request timed out"))).toBeUndefined();
    expect(asToolError(new McpError(ErrorCode.ConnectionClosed, "Connection closed"))).toBeUndefined();
    expect(asToolError(new Error("fetch failed"))).toBeUndefined();
  });

  it("describes nested causes", () => {
    expect(describeError(new Error("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") }))).toBe(
      "fetch failed: connect ECONNREFUSED 127.0.0.1:9",
    );
  });
});
