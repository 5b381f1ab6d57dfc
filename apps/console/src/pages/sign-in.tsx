import { useState } from "preact/hooks";
import { api, ApiError, Key } from "../api.js";

/** Asks for the organization's API key and keeps it for this tab once the API accepts it. */
export function SignIn(props: { notice: string | undefined; onSignedIn: () => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem("apiKey") as HTMLInputElement;
    const key = input.value.trim();
    setBusy(true);
    setError(undefined);
    try {
      await api("/api/sessions?limit=1", { key });
      Key.set(key);
      input.value = "";
      props.onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That API key was refused." : `Could not sign in: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="sign-in">
      <h1>Nubabel console</h1>
      {props.notice && <p role="status">{props.notice}</p>}
      <form onSubmit={submit} autocomplete="off">
        <label for="apiKey">Organization API key</label>
        <input id="apiKey" name="apiKey" type="password" required autocomplete="off" spellcheck={false} placeholder="nbk_…" aria-describedby="apiKeyHelp" />
        <p id="apiKeyHelp" class="hint">
          Kept in this browser tab only, until you sign out or close it. <code>npm start</code> prints the development key.
        </p>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
