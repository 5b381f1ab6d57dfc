import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** Where the project's build puts the console (`apps/console`, built by Vite into its `dist/`). */
export const CONSOLE_DIR = fileURLToPath(new URL("../../../../console/dist/", import.meta.url));

/**
 * The console's content security policy: its own scripts, styles and API only. No inline script
 * or style, nothing from elsewhere, no plugins, and no framing (clickjacking a Stop button).
 */
export const CONSOLE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Assets are named by their content (`index-B56MRcnE.css`): a new build is a new name, so caches may keep them forever. */
const IMMUTABLE = "public, max-age=31536000, immutable";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
};

interface Built {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

/** The build's files, read whole (a few tens of kilobytes); undefined while it has not been built. */
function load(dir: string): Built | undefined {
  const index = path.join(dir, "index.html");
  if (!existsSync(index)) return undefined;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = path.join(dir, "assets");
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, { body: readFileSync(path.join(assetDir, name)), type });
  }
  return { index: readFileSync(index), assets };
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONSOLE_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin");
}

/**
 * `/console/`: the web console, public static files (every API call it makes carries the key the
 * person signs in with). Files are served from memory by name, so no request reaches the disk;
 * `index.html` is revalidated on every visit, so a new build is picked up at once. Read on first
 * request (not at start), so an instance started before the build serves it once it exists.
 */
export function consoleRoutes(app: FastifyInstance, options: { dir?: string } = {}): void {
  const dir = options.dir ?? CONSOLE_DIR;
  let built: Built | undefined;
  const files = () => (built ??= load(dir));

  app.get("/console", async (_request, reply) => secure(reply).redirect("/console/", 308));

  app.get("/console/", async (_request, reply) => {
    const found = files();
    if (!found) {
      return secure(reply)
        .status(503)
        .header("cache-control", "no-store")
        .type("text/plain; charset=utf-8")
        .send("The console has not been built: run `npm run build` (npm start and npm test do it), then reload.\n");
    }
    return secure(reply).header("cache-control", "no-cache").type("text/html; charset=utf-8").send(found.index);
  });

  app.get("/console/assets/:file", async (request, reply) => {
    const asset = files()?.assets.get((request.params as { file: string }).file);
    if (!asset) {
      secure(reply).callNotFound();
      return reply;
    }
    return secure(reply).header("cache-control", IMMUTABLE).type(asset.type).send(asset.body);
  });
}
