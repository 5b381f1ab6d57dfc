import { describe, expect, it } from "vitest";
import { Ids, Prompt, UserId } from "./index.js";
import { isPathSegment, jsonDepth, parseJson, valueDepth, withoutNul } from "./text.js";

describe("Text", () => {
  it("refuses NUL and control characters, keeping tabs and line breaks in free text", () => {
    expect(Prompt.safeParse("two\nlines\tand\r\nmore").success).toBe(true);
    for (const bad of ["a\u0000b", "a\u0001b", "a\u001bb", "a\u007fb"]) expect(Prompt.safeParse(bad).success).toBe(false);
    for (const bad of ["a\u0000b", "a\nb", "a\tb"]) expect(UserId.safeParse(bad).success).toBe(false);
    expect(withoutNul("a\u0000b")).toBe("a\ufffdb");
  });

  it("refuses ids that change when used as a URL path segment", () => {
    for (const id of [".", "..", "a%2Fb", "a?b", "a#b", "a/b", "a\\b"]) expect(isPathSegment(id)).toBe(false);
    for (const id of ["thread-1", "C123:1700000000.0001", "a.b", "..."]) expect(isPathSegment(id)).toBe(true);
    expect(Ids.SessionId.safeParse(".").success).toBe(false);
    expect(Ids.SessionId.safeParse("..").success).toBe(false);
    expect(Ids.OpencodeSessionId.safeParse("abc").success).toBe(false);
    expect(Ids.OpencodeSessionId.safeParse("ses_abc").success).toBe(true);
  });

  it("bounds nesting before parsing, ignoring brackets inside strings", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(jsonDepth(deep)).toBeGreaterThan(64);
    expect(() => parseJson(deep)).toThrow(/deeper/);
    expect(jsonDepth('{"a":"[[[[\\"[[["}')).toBe(1);
    expect(parseJson('{"a":[1,{"b":2}]}')).toEqual({ a: [1, { b: 2 }] });
    expect(() => parseJson("{nope")).toThrow(/not valid JSON/);
    // V8 quotes the text near a syntax error: a word there is not a forbidden key.
    expect(() => parseJson('["prototype",]')).toThrow(/not valid JSON/);
    expect(() => parseJson(`{"a":{"__proto__":{"admin":true}}}`)).toThrow('the key "__proto__" is not allowed');
    expect(() => parseJson(`{"a":{"\\u005f_proto__":{"admin":true}}}`)).toThrow('the key "__proto__" is not allowed');
    expect(() => parseJson(`{"constructor":{"prototype":{"admin":true}}}`)).toThrow('a "constructor" key holding "prototype" is not allowed');
    let value: unknown = 1;
    for (let i = 0; i < 100_000; i++) value = [value];
    expect(valueDepth(value)).toBeGreaterThan(64);
  });
});
