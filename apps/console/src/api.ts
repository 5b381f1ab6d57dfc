import type { ErrorBody } from "@nubabel/contracts";

/**
 * The organization's API key lives in this tab's sessionStorage only: never localStorage, a cookie
 * or a URL. Closing the tab or signing out forgets it.
 */
const KEY = "nubabel.apiKey";

export const Key = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string): void => sessionStorage.setItem(KEY, key),
  clear: (): void => sessionStorage.removeItem(KEY),
};

/** An answer other than 2xx, with the API's error code and message. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the key is refused (401): the app signs out. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** `fetch` against Nubabel's API with the key, JSON in and out; throws `ApiError` for anything not 2xx. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; key?: string; headers?: Record<string, string> } = {}): Promise<T> {
  const key = init.key ?? Key.get();
  const res = await fetch(path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      accept: "application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    cache: "no-store",
    credentials: "omit",
  });
  const text = await res.text();
  const data: unknown = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const error = (data as Partial<ErrorBody> | undefined)?.error;
    if (res.status === 401 && init.key === undefined) onUnauthorized();
    throw new ApiError(res.status, error?.code ?? "http_error", error?.message ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A route the server does not have (yet): the console shows "not available" instead of an error. */
export const missing = (err: unknown): boolean => err instanceof ApiError && err.status === 404 && err.code === "not_found";
