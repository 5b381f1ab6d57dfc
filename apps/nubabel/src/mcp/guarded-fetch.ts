import { lookup as systemLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { classifyAddress } from "@nubabel/net-policy";
import { McpUrlRefusedError } from "./errors.js";

type DnsLookup = (
  hostname: string,
  options: { all: true; family?: number; hints?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface GuardedFetch {
  fetch: FetchLike;
  close(): Promise<void>;
}

/**
 * A fetch for organizations' own (`custom`) servers that refuses loopback, private and link-local
 * destinations at the moment each socket connects. This closes the DNS-rebinding gap left by the
 * check at save time: the name is resolved once per connection attempt, every resolved address is
 * vetted before one is dialled, and the socket's actual peer address is checked again after it
 * connects (which also covers IP literals and redirects, which skip resolution). No request bytes
 * are written to a refused peer. Residual: a refused peer still sees a TCP (and TLS) handshake.
 */
export function createGuardedFetch(options: { lookup?: DnsLookup } = {}): GuardedFetch {
  const resolveAll = options.lookup ?? (systemLookup as unknown as DnsLookup);
  const lookup: LookupFunction = (hostname, opts, callback) => {
    resolveAll(hostname, { family: opts.family as number | undefined, hints: opts.hints, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const bad = addresses.find((a) => classifyAddress(a.address));
      if (bad) {
        const refused = new McpUrlRefusedError({ host: hostname, address: bad.address, reason: classifyAddress(bad.address)! });
        return callback(refused as NodeJS.ErrnoException, "", 0);
      }
      if (opts.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
  const base = buildConnector({ lookup });
  const agent = new Agent({
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[(.*)\]$/, "$1");
      if (isIP(host) && classifyAddress(host)) {
        return callback(new McpUrlRefusedError({ host, address: host, reason: classifyAddress(host)! }), null);
      }
      base(opts, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error("connect failed"), null);
        const peer = socket.remoteAddress ?? "";
        const why = peer ? classifyAddress(peer) : "an unknown peer address";
        if (!why) return callback(null, socket);
        socket.destroy();
        callback(new McpUrlRefusedError({ host, address: peer, reason: why }), null);
      });
    },
  });
  const guarded = (url: string | URL, init?: RequestInit) =>
    undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  return { fetch: guarded, close: () => agent.close() };
}
