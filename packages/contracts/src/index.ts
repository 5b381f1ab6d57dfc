export * as Ids from "./ids.js";
export * as Webhooks from "./webhooks.js";
export * as Capabilities from "./capability.js";
export * from "./sidecar.js";
export * from "./callbacks.js";
export * from "./progress.js";
export * from "./errors.js";
export * from "./connections.js";
export * from "./runs.js";
