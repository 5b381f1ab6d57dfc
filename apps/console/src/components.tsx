import type { ComponentChildren } from "preact";
import { ApiError, missing } from "./api.js";

/** An error said in words, announced to screen readers; nothing without one. */
export function Problem(props: { error: unknown }) {
  if (!props.error) return null;
  const err = props.error;
  const text = err instanceof ApiError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
  return (
    <p role="alert" class="error">
      {text}
    </p>
  );
}

/** A feature this server does not offer yet (its route answers 404): said once, calmly. */
export function Unavailable(props: { what: string; error: unknown; children?: ComponentChildren }) {
  if (!missing(props.error)) return <Problem error={props.error} />;
  return (
    <p class="notice" role="status">
      {props.what} is not available on this server.
    </p>
  );
}
