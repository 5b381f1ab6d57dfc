import type { ApiRunAccepted, ApiSessionList, ApiSessionSummary } from "@nubabel/contracts";
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { Problem } from "../components.js";
import { when } from "../format.js";
import { useLoad } from "../hooks.js";

/** The organization's sessions, newest first, and a prompt box that starts a new one. */
export function SessionsPage() {
  const [more, setMore] = useState<ApiSessionSummary[]>([]);
  const [cursor, setCursor] = useState<string>();
  const first = useLoad(() => api<ApiSessionList>("/api/sessions?limit=25"), []);
  const [error, setError] = useState<unknown>();
  const next = cursor ?? (more.length === 0 ? first.data?.nextCursor : undefined);
  const sessions = [...(first.data?.sessions ?? []), ...more];

  async function loadMore() {
    try {
      const page = await api<ApiSessionList>(`/api/sessions?limit=25&cursor=${encodeURIComponent(next!)}`);
      setMore((m) => [...m, ...page.sessions]);
      setCursor(page.nextCursor ?? "");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <>
      <h1>Sessions</h1>
      <NewRun />
      <Problem error={first.error ?? error} />
      {first.loading && !first.data ? (
        <p aria-live="polite">Loading…</p>
      ) : sessions.length === 0 ? (
        <p>No sessions yet.</p>
      ) : (
        <div class="scroll">
          <table>
            <caption class="sr-only">Sessions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">Status</th>
                <th scope="col" class="narrow-hide">User</th>
                <th scope="col" class="narrow-hide">Started</th>
                <th scope="col">Last activity</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`#/session/${encodeURIComponent(s.id)}`}>{s.id}</a>
                  </td>
                  <td>
                    <span class={`status ${s.state.status}`}>{s.state.status}</span>
                  </td>
                  <td class="narrow-hide">{s.userId ?? ""}</td>
                  <td class="narrow-hide">{when(s.createdAt)}</td>
                  <td>{when(s.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button type="button" class="secondary" onClick={loadMore}>
          More sessions
        </button>
      )}
    </>
  );
}

/** A prompt sent as a new run (`Prefer: respond-async`); the page of its session opens to watch it. */
function NewRun() {
  const [error, setError] = useState<unknown>();
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const prompt = (form.elements.namedItem("prompt") as HTMLTextAreaElement).value.trim();
    if (!prompt) return;
    try {
      const run = await api<ApiRunAccepted>("/api/delegate", { body: { prompt }, headers: { prefer: "respond-async" } });
      location.hash = `#/session/${encodeURIComponent(run.sessionId)}`;
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form class="card" onSubmit={submit}>
      <label for="prompt">Ask the assistant (starts a new session)</label>
      <textarea id="prompt" name="prompt" rows={2} required />
      <Problem error={error} />
      <button type="submit">Start run</button>
    </form>
  );
}
