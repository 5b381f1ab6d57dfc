import type { Connection, ConnectionList, ConnectionTools } from "@nubabel/contracts";
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { Problem } from "../components.js";
import { when } from "../format.js";
import { useLoad } from "../hooks.js";

/**
 * The organization's MCP connections: names and status (and which credentials they hold, by name:
 * the API never returns a value), added, turned off or on, and tested by listing their tools.
 */
export function ConnectionsPage() {
  const list = useLoad(() => api<ConnectionList>("/api/connections"), []);
  const [error, setError] = useState<unknown>();
  const [tested, setTested] = useState<Record<string, string>>({});

  async function setEnabled(c: Connection, enabled: boolean) {
    try {
      await api(`/api/connections/${c.id}`, { method: "PATCH", body: { enabled } });
      list.reload();
    } catch (err) {
      setError(err);
    }
  }

  async function test(c: Connection) {
    setTested((t) => ({ ...t, [c.id]: "testing…" }));
    try {
      const { tools } = await api<ConnectionTools>(`/api/connections/${c.id}/tools`);
      setTested((t) => ({ ...t, [c.id]: `works: ${tools.length} tool${tools.length === 1 ? "" : "s"}` }));
    } catch (err) {
      setTested((t) => ({ ...t, [c.id]: `failed: ${(err as Error).message}` }));
    }
  }

  const connections = list.data?.connections ?? [];
  return (
    <>
      <h1>Connections</h1>
      <Problem error={list.error ?? error} />
      {list.data && connections.length === 0 && <p>No connections yet.</p>}
      {connections.length > 0 && (
        <div class="scroll">
          <table>
            <caption class="sr-only">Connections</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Provider</th>
                <th scope="col">Status</th>
                <th scope="col">Credentials</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {connections.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td>{c.provider}</td>
                  <td>
                    <span class={`status ${c.enabled ? "completed" : "aborted"}`}>{c.enabled ? "enabled" : "disabled"}</span>
                  </td>
                  <td>{c.credentials.length ? c.credentials.join(", ") : "none"}</td>
                  <td>{when(c.updatedAt)}</td>
                  <td class="actions">
                    <button type="button" class="secondary" onClick={() => setEnabled(c, !c.enabled)} aria-label={`${c.enabled ? "Disable" : "Enable"} ${c.name}`}>
                      {c.enabled ? "Disable" : "Enable"}
                    </button>{" "}
                    <button type="button" class="secondary" onClick={() => test(c)} aria-label={`Test ${c.name}`}>
                      Test
                    </button>
                    {tested[c.id] && <span role="status"> {tested[c.id]}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddConnection onAdded={list.reload} />
    </>
  );
}

/** A new connection: a provider, a name, an optional URL and one credential (sent once, never shown again). */
function AddConnection(props: { onAdded: () => void }) {
  const [error, setError] = useState<unknown>();
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    const url = value("url");
    const credentialName = value("credentialName");
    const credentialValue = value("credentialValue");
    try {
      await api("/api/connections", {
        body: {
          provider: value("provider"),
          ...(value("name") ? { name: value("name") } : {}),
          ...(url ? { transport: { type: "http", url } } : {}),
          credentials: credentialName && credentialValue ? { [credentialName]: credentialValue } : {},
        },
      });
      form.reset();
      setError(undefined);
      props.onAdded();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form class="card grid" onSubmit={submit} autocomplete="off">
      <h2>Add a connection</h2>
      <label for="provider">Provider</label>
      <input id="provider" name="provider" required placeholder="notion, github, custom" />
      <label for="connName">Name (optional)</label>
      <input id="connName" name="name" />
      <label for="url">Server URL (custom providers)</label>
      <input id="url" name="url" type="url" placeholder="https://mcp.example.com/mcp" />
      <label for="credentialName">Credential name</label>
      <input id="credentialName" name="credentialName" placeholder="token" />
      <label for="credentialValue">Credential value</label>
      <input id="credentialValue" name="credentialValue" type="password" autocomplete="off" />
      <Problem error={error} />
      <button type="submit">Add connection</button>
    </form>
  );
}
