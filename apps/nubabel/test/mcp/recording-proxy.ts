import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One exchange that went through a `RecordingProxy`: both bodies as text. */
export interface Exchange {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  requestBody: string;
  status: number;
  responseBody: string;
}

/**
 * A transparent HTTP proxy that keeps every request and response body, to inspect exactly what
 * crossed a process boundary (Nubabel ↔ sidecar, both directions). `target` may change, so the
 * proxy's URL survives a restart of what sits behind it.
 */
export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
    public target: string,
  ) {}

  static async start(target = "http://127.0.0.1:9", port = 0): Promise<RecordingProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const proxy = new RecordingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, target);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const requestBody = Buffer.concat(chunks);
        const target = new URL(proxy.target);
        const upstream = httpRequest(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
          (answer) => {
            const back: Buffer[] = [];
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.on("data", (c: Buffer) => (back.push(c), res.write(c)));
            answer.on("end", () => {
              proxy.exchanges.push({
                method: req.method ?? "",
                path: req.url ?? "",
                headers: req.headers,
                requestBody: requestBody.toString("utf8"),
                status: answer.statusCode ?? 0,
                responseBody: Buffer.concat(back).toString("utf8"),
              });
              res.end();
            });
          },
        );
        upstream.on("error", () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        upstream.end(requestBody);
      });
    });
    return proxy;
  }

  /** Everything recorded, as one string to search. */
  text(): string {
    return this.exchanges.map((e) => `${e.method} ${e.path}\n${e.requestBody}\n${e.status}\n${e.responseBody}`).join("\n");
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
