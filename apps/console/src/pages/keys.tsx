import type { ApiKeyCreated, ApiKeyList, ApiKeyView } from "@nubabel/contracts";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { Problem, Unavailable } from "../components.js";
import { when } from "../format.js";
import { useLoad } from "../hooks.js";

/**
 * The organization's API keys, by prefix and name (never a key, which is shown once, when made):
 * made and revoked here. The key this console signed in with is marked and not offered for
 * revoking, so the page cannot lock itself out; another key, or the CLI, can revoke it.
 */
export function KeysPage() {
  const list = useLoad(() => api<ApiKeyList>("/api/keys"), []);
  const [error, setError] = useState<unknown>();
  const [made, setMade] = useState<ApiKeyCreated>();
  /** The new key was dismissed: the form that replaces it takes the focus back. */
  const [dismissed, setDismissed] = useState(false);

  async function revoke(key: ApiKeyView) {
    if (!confirm(`Revoke the key ${label(key)}? Anything using it stops working at once.`)) return;
    try {
      await api(`/api/keys/${encodeURIComponent(key.id)}/revoke`, { method: "POST" });
      setError(undefined);
      list.reload();
    } catch (err) {
      setError(err);
    }
  }

  const keys = list.data?.keys ?? [];
  return (
    <>
      <h1>API keys</h1>
      <Unavailable what="Managing API keys" error={list.error} />
      <Problem error={error} />
      {keys.length > 0 && (
        <div class="scroll">
          <table>
            <caption class="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Name</th>
                <th scope="col">Made</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.name ?? ""}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>
                    {k.revokedAt ? (
                      <span class="status aborted">revoked {when(k.revokedAt)}</span>
                    ) : (
                      <span class="status completed">{k.current ? "active, this console" : "active"}</span>
                    )}
                  </td>
                  <td class="actions">
                    {!k.revokedAt && !k.current && (
                      <button type="button" class="danger" onClick={() => revoke(k)} aria-label={`Revoke ${label(k)}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {made ? (
        <NewKey
          made={made}
          onDone={() => {
            setMade(undefined);
            setDismissed(true);
          }}
        />
      ) : (
        list.data && (
          <MakeKey
            focus={dismissed}
            onMade={(key) => {
              setMade(key);
              list.reload();
            }}
          />
        )
      )}
    </>
  );
}

const label = (key: Pick<ApiKeyView, "prefix" | "name">) => (key.name ? `${key.name} (${key.prefix}…)` : `${key.prefix}…`);

/** A new key, with an optional name (one line, up to 100 characters). One request at a time: a double click makes one key. */
function MakeKey(props: { focus: boolean; onMade: (key: ApiKeyCreated) => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const name = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (props.focus) name.current?.focus();
  }, []);
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (busy) return;
    const form = event.currentTarget as HTMLFormElement;
    const value = name.current?.value.trim() ?? "";
    setBusy(true);
    try {
      const made = await api<ApiKeyCreated>("/api/keys", { body: value ? { name: value } : {} });
      form.reset();
      setError(undefined);
      props.onMade(made);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card grid" onSubmit={submit} autocomplete="off">
      <h2>Make a key</h2>
      <label for="keyName">Name (optional)</label>
      <input id="keyName" name="keyName" ref={name} maxLength={100} placeholder="ci, billing-service" />
      <Problem error={error} />
      <button type="submit" disabled={busy}>
        Make key
      </button>
    </form>
  );
}

/** The key just made, shown this once; dismissed, it is gone from the page. */
function NewKey(props: { made: ApiKeyCreated; onDone: () => void }) {
  const [copied, setCopied] = useState<string>();
  const key = useRef<HTMLInputElement>(null);
  // The form that had the focus is gone: the key takes it (and, focused, selects itself).
  useEffect(() => key.current?.focus(), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(props.made.apiKey);
      setCopied("Copied.");
    } catch {
      // No clipboard access (a page not served over HTTPS, say): the field selects itself.
      setCopied("Could not copy: select the key and copy it.");
    }
  }
  return (
    <section class="card grid" aria-labelledby="new-key">
      <h2 id="new-key">New key {label(props.made)}</h2>
      <label for="newKey">Copy it now: it is not shown again.</label>
      <input id="newKey" ref={key} readOnly value={props.made.apiKey} onFocus={(e) => e.currentTarget.select()} />
      <div class="actions">
        <button type="button" class="secondary" onClick={copy}>
          Copy
        </button>{" "}
        <button type="button" onClick={props.onDone}>
          Done
        </button>
        {copied && <span role="status"> {copied}</span>}
      </div>
    </section>
  );
}
