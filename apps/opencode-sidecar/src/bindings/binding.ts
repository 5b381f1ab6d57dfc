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

/**
 * The binding of the session, or of its nearest bound ancestor (a subagent's session is a child
 * of the one that started it), looking up at most 8 levels.
 */
export async function boundAncestor(store: BindingStore, parentOf: (sessionId: string) => Promise<string | undefined>, sessionId: string): Promise<Binding | undefined> {
  let id: string | undefined = sessionId;
  for (let depth = 0; id && depth < 8; depth++) {
    const binding = await store.get(id);
    if (binding) return binding;
    id = await parentOf(id);
  }
  return undefined;
}
