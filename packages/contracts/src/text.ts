import secureJson from "secure-json-parse";
import { z } from "zod";

/**
 * The string and JSON checks every payload of both services shares, so bad input is refused at the
 * boundary with a 400 naming the field, before anything runs or is stored. PostgreSQL refuses NUL
 * in `text` and `\u0000` in `jsonb`; a value nested deeply enough overflows the stack of any
 * recursive walk (`JSON.stringify`, a logger, a store), so depth is bounded before recursion.
 */

// Matching control characters is this module's purpose; written with escapes so the source holds none.
/* eslint-disable no-control-regex */
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const CONTROLS_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const NUL = /\u0000/;
const NULS = /\u0000/g;
/* eslint-enable no-control-regex */

/** A single-line value (a name, an id, a user id): no control characters at all. */
export function line(max: number) {
  return z.string().min(1).max(max).refine((s) => !CONTROL.test(s), "must not contain control characters");
}

/** Free text a person wrote (a prompt): tabs and line breaks, but no other control characters. */
export function free(max: number) {
  return z.string().max(max).refine((s) => !CONTROL_BUT_WHITESPACE.test(s), "must not contain control characters other than tab and line breaks");
}

/**
 * Text an engine or a tool produced (an answer, a tool's output): it may carry terminal escapes,
 * but never NUL, which no store keeps.
 */
export function output(max = 10_000_000) {
  return z.string().max(max).refine((s) => !NUL.test(s), "must not contain NUL characters");
}

/** Control characters but tab and line breaks removed (terminal escapes in an answer), so it passes `free`. */
export function printable(s: string): string {
  return s.replace(CONTROLS_BUT_WHITESPACE, "");
}

/** NUL replaced, so engine output that holds one can still be stored and sent. */
export function withoutNul(s: string): string {
  return NUL.test(s) ? s.replace(NULS, "\ufffd") : s;
}

/**
 * True when `s` can be one segment of a URL path unchanged: not `.`/`..` (which a URL parser
 * resolves away), no `/` or `%` (which a server splits or decodes) and nothing that a URL parser would alter.
 */
export function isPathSegment(s: string): boolean {
  if (s === "." || s === ".." || s.includes("%") || s.includes("/")) return false;
  return new URL(`http://x/${s}`).pathname === `/${s}`;
}

/** A value used as a path segment of some URL (a session id in a callback URL). */
export function segment<S extends z.ZodString>(schema: S) {
  return schema.refine(isPathSegment, "must not be . or .. or change when used in a URL path");
}

/** How deeply JSON may nest in any payload of either service. */
export const MAX_DEPTH = 64;

/**
 * The deepest nesting of arrays and objects in JSON text, scanning without recursion and stopping
 * once past `limit` (strings are skipped, so brackets inside them do not count).
 */
export function jsonDepth(raw: string, limit = MAX_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** The nesting depth of a parsed value, walked with an explicit stack; stops once past `limit`. */
export function valueDepth(value: unknown, limit = MAX_DEPTH): number {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let max = 0;
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth]);
    }
  }
  return max;
}

/** Thrown by `parseJson` for text that is not JSON or nests too deeply. */
export class JsonError extends Error {
  override readonly name = "JsonError";
}

/**
 * `JSON.parse` that refuses nesting deeper than `limit` before building anything, and a
 * `__proto__` or `constructor.prototype` key (which would change an object's prototype wherever
 * the value is later merged), as Fastify's own parser does.
 */
export function parseJson(raw: string, limit = MAX_DEPTH): unknown {
  if (jsonDepth(raw, limit) > limit) throw new JsonError(`nests deeper than ${limit} levels`);
  try {
    return secureJson.parse(raw, null, { protoAction: "error", constructorAction: "error" }) as unknown;
  } catch (err) {
    // Matched exactly: `JSON.parse`'s own messages quote the text, which may say "prototype".
    if (!(err instanceof SyntaxError && err.message === FORBIDDEN)) throw new JsonError("is not valid JSON");
    // secure-json-parse words both keys alike; this rare path parses once more to name the one found.
    throw new JsonError(holdsProtoKey(raw) ? PROTO_KEY : CONSTRUCTOR_KEY);
  }
}

/** secure-json-parse's message for either key. */
const FORBIDDEN = "Object contains forbidden prototype property";
const PROTO_KEY = 'the key "__proto__" is not allowed (it would change an object\'s prototype)';
const CONSTRUCTOR_KEY = 'a "constructor" key holding "prototype" is not allowed (it would change an object\'s prototype)';

function holdsProtoKey(raw: string): boolean {
  try {
    secureJson.parse(raw, null, { protoAction: "error", constructorAction: "ignore" });
    return false;
  } catch {
    return true;
  }
}

/** Any JSON value (a tool's input, arguments, metadata) nested no deeper than `MAX_DEPTH`. */
export function json() {
  return z.unknown().refine((v) => valueDepth(v) <= MAX_DEPTH, `must not nest deeper than ${MAX_DEPTH} levels`);
}

/** A JSON object of any values, nested no deeper than `MAX_DEPTH`. */
export function record() {
  return z.record(z.string(), z.unknown()).refine((v) => valueDepth(v) <= MAX_DEPTH, `must not nest deeper than ${MAX_DEPTH} levels`);
}

/**
 * A number in a JSON body. `JSON.parse` reads a literal past the double range (`1e309`) as
 * Infinity, which zod refuses as "expected number, received number"; this says what is wrong.
 */
export function finiteNumber() {
  return z.number({ error: (issue) => (issue.input === Infinity || issue.input === -Infinity ? "must be a finite number (this one is too large)" : undefined) });
}

/** A whole number in a query string, from `min` to `max`, refused in those words whatever is wrong with it. */
export function queryInt(min: number, max: number) {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: range }).int({ error: range }).min(min, range).max(max, range);
}
