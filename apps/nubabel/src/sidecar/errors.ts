import { NubabelError } from "../errors.js";

/**
 * The sidecar could not be reached, timed out, failed with 5xx, or its circuit is open.
 * `transient`: it said to come back shortly (its engine is restarting, or it is draining), and
 * `code` is what it said (`engine_unavailable`, `draining`), or `unreached`: no connection was made.
 */
export class SidecarUnavailable extends NubabelError<{ sidecarUrl: string; reason: string; transient?: boolean; code?: string }> {
  override readonly name = "SidecarUnavailable";
  constructor(sidecarUrl: string, reason: string, transient = false, code?: string) {
    super("sidecar unavailable", { sidecarUrl, reason, ...(transient ? { transient } : {}), ...(code ? { code } : {}) });
  }

  /** The sidecar is drained or shutting down: it takes no new runs, so they go elsewhere. */
  get draining(): boolean {
    return this.data.code === "draining";
  }

  /** The request never reached it (connection refused, no route, circuit open): nothing ran there. */
  get unreached(): boolean {
    return this.data.code === "unreached";
  }
}

/**
 * The sidecar refused the request (4xx, or a 503 saying it is set up wrong): its error body is
 * passed on, so an unknown category's 400 still lists the known ones and a missing model's 503
 * names the variables to set.
 */
export class SidecarRejected extends NubabelError<{ status: number; code: string; message: string; details?: unknown }> {
  override readonly name = "SidecarRejected";
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message, { status, code, message, details });
  }

  /** The sidecar is set up wrong (no model, a plugin missing): it refused before creating anything. */
  get misconfigured(): boolean {
    return this.data.status === 503 && MISCONFIGURED.has(this.data.code);
  }
}

/**
 * 503s that say a sidecar is set up wrong: passed on as it said them, naming what to set, since
 * asking it again changes nothing until someone does. Not a broken sidecar.
 */
export const MISCONFIGURED: ReadonlySet<string> = new Set(["no_model_configured", "plugin_not_loaded"]);

/** The sidecar answered 2xx with a body that breaks the contract. */
export class SidecarProtocolError extends NubabelError<{ sidecarUrl: string; reason: string }> {
  override readonly name = "SidecarProtocolError";
  constructor(sidecarUrl: string, reason: string) {
    super("sidecar answered with an unexpected body", { sidecarUrl, reason });
  }
}
