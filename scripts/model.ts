/**
 * `npm run model`: a stand-in model for trying Nubabel where no model is at hand (no API key, no
 * network). An OpenAI-compatible server on 127.0.0.1 that answers every agent turn by quoting what
 * it was sent (`echoReply`); no language model runs. Environment: MODEL_PORT (4010). Ctrl-C or
 * SIGTERM stops it.
 */
import { ECHO_MODEL_ID, echoReply, ModelServer } from "@nubabel/testkit";

const text = process.env.MODEL_PORT || "4010";
const port = Number(text);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`MODEL_PORT must be a port number (1 to 65535), not "${text}"`);

const server = await ModelServer.start({ port, keepRequests: false }).catch((err: NodeJS.ErrnoException) =>
  fail(err.code === "EADDRINUSE" ? `port ${port} is taken: set MODEL_PORT to a free one` : `could not listen on port ${port}: ${err.message}`),
);
server.respond(echoReply);
console.log(
  [
    `[model] stand-in model on ${server.url}: it answers every turn by quoting what it was sent; no language model runs.`,
    "[model] In another terminal, from the repository root:",
    `[model]   MODEL_BASE_URL=${server.url} MODEL_NAME=${ECHO_MODEL_ID} npm start`,
  ].join("\n"),
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close().finally(() => process.exit(0)));
}

function fail(message: string): never {
  console.error(`[model] ${message}`);
  process.exit(1);
}
