import { lookup as systemLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import { classifyAddress } from "./address.js";

type DnsLookup = (
  hostname: string,
  options: { all: true; family?: number; hints?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** What a refused connection was about to reach, and why it may not. */
export interface Refusal {
  host: string;
  address: string;
  reason: string;
}

/** The default error of a refused connection (callers may bring their own typed one). */
export class AddressRefused extends Error {
  override readonly name = "AddressRefused";
  constructor(readonly data: Refusal) {
    super(`refusing to connect to ${data.host} (${data.address}): ${data.reason}`);
  }
}

export interface GuardedFetch {
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/**
 * A fetch for organizations' own destinations (custom MCP servers, webhook endpoints) that refuses
 * loopback, private and link-local destinations at the moment each socket connects. This closes
 * the DNS-rebinding gap left by a check at save time: the name is resolved once per connection
 * attempt, every resolved address is vetted before one is dialled, and the socket's actual peer
 * address is checked again after it connects (which also covers IP literals and redirects, which
 * skip resolution). No request bytes are written to a refused peer. Residual: a refused peer still
 * sees a TCP (and TLS) handshake. The error is `refused(…)`'s, `AddressRefused` by default.
 */
export function createGuardedFetch(options: { lookup?: DnsLookup; refused?: (refusal: Refusal) => Error } = {}): GuardedFetch {
  const resolveAll = options.lookup ?? (systemLookup as unknown as DnsLookup);
  const refuse = options.refused ?? ((refusal: Refusal) => new AddressRefused(refusal));
  const lookup: LookupFunction = (hostname, opts, callback) => {
    resolveAll(hostname, { family: opts.family as number | undefined, hints: opts.hints, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const bad = addresses.find((a) => classifyAddress(a.address));
      if (bad) return callback(refuse({ host: hostname, address: bad.address, reason: classifyAddress(bad.address)! }) as NodeJS.ErrnoException, "", 0);
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
      if (isIP(host) && classifyAddress(host)) return callback(refuse({ host, address: host, reason: classifyAddress(host)! }), null);
      base(opts, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error("connect failed"), null);
        const peer = socket.remoteAddress ?? "";
        const why = peer ? classifyAddress(peer) : "an unknown peer address";
        if (!why) return callback(null, socket);
        socket.destroy();
        callback(refuse({ host, address: peer, reason: why }), null);
      });
    },
  });
  const guarded = (url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  return { fetch: guarded, close: () => agent.close() };
}
