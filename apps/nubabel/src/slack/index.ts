export { createSlackBot, type SlackBot, type SlackBotOptions } from "./bot.js";
export type { SlackApi, IncomingMessage } from "./conversations.js";
export { SlackPayloadInvalid, SlackSignatureInvalid } from "./errors.js";
export { eventsEndpoint, fastifySlackEvents, SIGNATURE_WINDOW_SECONDS, type Delivery, type EndpointResult } from "./events-endpoint.js";
export { systemClock, type Clock } from "./live-message.js";
export { watchProgressLog, type ProgressEntry, type ProgressSource } from "./progress-feed.js";
export { MemoryEventDedupe, MemorySlackLinks, MemorySlackThreads } from "./memory.js";
export type { DelegateTurn, EventDedupe, NubabelPort, SlackLinks, SlackPorts, SlackThreads, ThreadKey, ThreadRecord } from "./ports.js";
export { SlackTeamId } from "./team-id.js";
