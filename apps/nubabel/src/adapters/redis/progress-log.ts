import type { Redis } from "ioredis";
import { isTerminal, type ProgressEvent, runScript } from "@nubabel/contracts";
import { START, type Entry, type ProgressLog } from "../../progress/progress-log.js";

// One script, so the id order and the publish order agree and a trimmed, expiring stream is kept;
// an event that ends a run is also announced, by its run id, on the one channel of all endings.
// The notification is "<id> [<prev>,<event>]": the id before it lets a reader that has sent up to
// there write it without reading the stream. (An instance of an older version, which read
// "<id> <event>", parses the array and ignores it: it only ever took the message as a nudge.)
const APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], id .. ' ["' .. (last and last[1] or '0-0') .. '",' .. ARGV[3] .. ']')
if ARGV[4] ~= '' then redis.call('PUBLISH', KEYS[3], ARGV[4]) end
return id
`;

/** A notification as `APPEND` publishes it, or as an older version did (no `prev`); undefined if malformed. */
function notification(message: string): Entry | undefined {
  const space = message.indexOf(" ");
  try {
    const body: unknown = JSON.parse(message.slice(space + 1));
    const id = message.slice(0, space);
    if (Array.isArray(body) && body.length === 2 && typeof body[0] === "string") return { id, prev: body[0], event: body[1] as ProgressEvent };
    return { id, event: body as ProgressEvent };
  } catch {
    return undefined;
  }
}

/** Session streams are `<organization>/<session>`, so no session's channel is named so. */
const ENDINGS_STREAM = "endings";

/**
 * `ProgressLog` on Redis: a Stream per session (`progress:<sessionId>`, trimmed with MAXLEN ~ and
 * expiring after a quiet week) and a pub/sub channel of the same name for instances to hear of new
 * entries. One subscriber connection serves every session on this instance, and the channel
 * `progress:endings` announces the run id of every run's end.
 */
export class RedisProgressLog implements ProgressLog {
  private readonly handlers = new Map<string, Set<(entry: Entry) => void>>();
  /** SUBSCRIBE in flight per channel, so a second subscriber waits until the channel is live. */
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly endings = new Set<(runId: string) => void>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly maxLen = 1_000,
    private readonly ttlSeconds = 7 * 24 * 3600,
  ) {
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === this.endingsChannel) {
        for (const handler of this.endings) handler(message);
        return;
      }
      const set = this.handlers.get(channel);
      if (!set) return;
      const entry = notification(message);
      if (entry) for (const handler of set) handler(entry);
    });
  }

  async append(sessionId: string, event: ProgressEvent): Promise<string> {
    const key = this.key(sessionId);
    const ended = event.runId && isTerminal(event) ? event.runId : "";
    const id = await runScript(this.redis, APPEND, 3, key, key, this.endingsChannel, this.maxLen, this.ttlSeconds, JSON.stringify(event), ended);
    return String(id);
  }

  async readAfter(sessionId: string, afterId: string, limit = 500): Promise<Entry[]> {
    const rows = await this.redis.xrange(this.key(sessionId), `(${afterId}`, "+", "COUNT", limit);
    return rows.map(([id, fields]) => ({ id, event: JSON.parse(fields[1] ?? "null") as ProgressEvent }));
  }

  async lastId(sessionId: string): Promise<string> {
    const rows = await this.redis.xrevrange(this.key(sessionId), "+", "-", "COUNT", 1);
    return rows[0]?.[0] ?? START;
  }

  async subscribe(sessionId: string, onAppend: (entry: Entry) => void): Promise<() => Promise<void>> {
    const channel = this.key(sessionId);
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(onAppend);
    const first = set.size === 1;
    if (first) {
      const subscribing = (async () => {
        if (this.subscriber.status === "wait") await this.subscriber.connect();
        await this.subscriber.subscribe(channel);
      })();
      this.pending.set(channel, subscribing);
      try {
        await subscribing;
      } catch (err) {
        const current = this.handlers.get(channel);
        current?.delete(onAppend);
        if (current?.size === 0) this.handlers.delete(channel);
        throw err;
      } finally {
        this.pending.delete(channel);
      }
    } else {
      await this.pending.get(channel);
    }
    return async () => {
      const current = this.handlers.get(channel);
      if (!current?.delete(onAppend) || current.size > 0) return;
      this.handlers.delete(channel);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  async watchEndings(onEnded: (runId: string) => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.subscribe(ENDINGS_STREAM, () => undefined);
    this.endings.add(onEnded);
    return async () => {
      this.endings.delete(onEnded);
      await unsubscribe();
    };
  }

  private get endingsChannel(): string {
    return this.key(ENDINGS_STREAM);
  }

  private key(sessionId: string): string {
    return `${this.prefix}progress:${sessionId}`;
  }
}
