import { z } from "zod";

/**
 * `METRICS_TOKEN`, `METRICS_HOST`, `METRICS_PORT`: the same in both services' config schemas
 * (spread into each). No token: `/metrics` is off. A port: served there instead of the main port.
 */
// Blank means unset, as in most .env files (the sidecar's parser does not drop blanks itself).
const blank = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

export const METRICS_ENV = {
  METRICS_TOKEN: z.preprocess(blank, z
    .string()
    .min(16, "must be at least 16 characters (a bearer token for GET /metrics; `openssl rand -hex 24` makes one)")
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces (it travels in an Authorization header)")
    .optional()),
  METRICS_HOST: z.preprocess(blank, z.string().optional()),
  METRICS_PORT: z.preprocess(blank, z.coerce.number({ error: "must be a port number" }).int().min(0).max(65_535, "must be a port number (0–65535)").optional()),
};

/** Refuses a host without a port, which would otherwise be ignored silently. */
export function metricsEnvProblem(env: { METRICS_HOST?: string; METRICS_PORT?: number }): string | undefined {
  return env.METRICS_HOST !== undefined && env.METRICS_PORT === undefined ? "METRICS_HOST needs METRICS_PORT (the separate listener's port)" : undefined;
}
