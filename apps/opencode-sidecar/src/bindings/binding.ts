import type { Callbacks } from "@nubabel/contracts";

/**
 * What ties an OpenCode session to Nubabel: whose it is, where it runs, and where (and with which
 * capability token) its callbacks go. The plugin never sees this; it asks the sidecar by session id.
 */
export interface Binding {
  opencodeSessionId: string;
  nubabelSessionId: string;
  organizationId: string;
  userId?: string;
  /** The organization's workspace folder, which is also the engine instance. */
  directory: string;
  callbacks?: Callbacks;
  callbackToken?: string;
  /** The delegation's category and skills, reused by follow-ups. */
  category?: string;
  skills?: string[];
}

/** Bindings by OpenCode session id. Kept in Redis when configured so they outlive a restart. */
export interface BindingStore {
  get(opencodeSessionId: string): Promise<Binding | undefined>;
  set(binding: Binding): Promise<void>;
}
