/**
 * The test machine's services, read from the environment in this one place: CI sets REDIS_URL to
 * the machine's Redis; a local run falls back to its default port.
 */
export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
