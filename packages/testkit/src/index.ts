export type { Json, RecordedRequest, Reply, Responder } from "./types.js";
export { DEFAULT_MODEL_ID, ModelServer } from "./model-server.js";
export { auxiliaryReply, isAuxiliary } from "./auxiliary.js";
export { opencodeProvider } from "./opencode-provider.js";
export { Scrape, type Family } from "./prometheus.js";
export { ECHO_MODEL_ID, echoReply } from "./echo.js";
export { unfinishedRequest } from "./slow-client.js";
