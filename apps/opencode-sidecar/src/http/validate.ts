import type { z } from "zod";
import { type Callbacks, describeIssues } from "@nubabel/contracts";
import { ValidationError } from "./errors.js";

/** Parses with a contract schema; a failure is a 400 naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.infer<S> {
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  const { message, fields } = describeIssues(result.error);
  throw new ValidationError(message, { fields });
}

/**
 * Callbacks may only point at the configured Nubabel: a forged delegation cannot make the
 * sidecar post (with a signature) anywhere else.
 */
export function checkCallbackOrigins(callbacks: Callbacks | undefined, allowed: string): void {
  if (!callbacks) return;
  const origin = new URL(allowed).origin;
  for (const [name, url] of Object.entries(callbacks)) {
    if (url && new URL(url).origin !== origin) {
      throw new ValidationError(`callbacks.${name}: origin ${new URL(url).origin} is not the configured Nubabel (${origin})`, {
        fields: [`callbacks.${name}`],
      });
    }
  }
}
