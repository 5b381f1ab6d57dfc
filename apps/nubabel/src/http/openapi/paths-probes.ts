import { Liveness, NubabelHealth, Readiness } from "@nubabel/contracts";
import { z } from "zod";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import * as Example from "./examples.js";
import { answer, Auth } from "./responses.js";

const down = { ...Example.health, sidecar: { ok: false, url: "http://127.0.0.1:3001", error: "fetch failed (ECONNREFUSED)" } };

/** The probes and this reference: public, no credentials. */
export const probePaths: ZodOpenApiPathsObject = {
  "/livez": {
    get: {
      tags: ["probes"],
      operationId: "livez",
      summary: "Liveness: 200 while the process serves HTTP",
      security: Auth.none,
      responses: { 200: answer("Alive.", Liveness, { status: "alive" }) },
    },
  },
  "/readyz": {
    get: {
      tags: ["probes"],
      operationId: "readyz",
      summary: "Readiness: 200 when the database, Redis (when configured) and a sidecar answer",
      description: "Every check is bounded in time; Slack is shown but never gates readiness.",
      security: Auth.none,
      responses: {
        200: answer("Ready.", Readiness, { status: "ready", ...Example.health }),
        503: answer("Not ready; `missing` names what is not.", Readiness, { status: "not_ready", missing: ["sidecar"], ...down }),
      },
    },
  },
  "/health": {
    get: {
      tags: ["probes"],
      operationId: "health",
      summary: "Health report for people: each dependency and each sidecar",
      security: Auth.none,
      responses: {
        200: answer("`healthy`.", NubabelHealth, { status: "healthy", ...Example.health }),
        503: answer("`degraded`, or `unhealthy` when the database is down.", NubabelHealth, { status: "degraded", ...down }),
      },
    },
  },
  "/openapi.json": {
    get: {
      tags: ["reference"],
      operationId: "openapi",
      summary: "This document (OpenAPI 3.1)",
      security: Auth.none,
      responses: { 200: { description: "The OpenAPI document.", content: { "application/json": { schema: z.looseObject({ openapi: z.string() }) } } } },
    },
  },
  "/docs": {
    get: {
      tags: ["reference"],
      operationId: "docs",
      summary: "This document as a page to read (HTML, no scripts)",
      security: Auth.none,
      responses: { 200: { description: "The reference page.", content: { "text/html": { schema: z.string() } } } },
    },
  },
};
