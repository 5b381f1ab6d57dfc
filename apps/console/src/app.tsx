import { useEffect, useState } from "preact/hooks";
import { Key, whenUnauthorized } from "./api.js";
import { useHash } from "./hooks.js";
import { BudgetPage } from "./pages/budget.js";
import { ConnectionsPage } from "./pages/connections.js";
import { KeysPage } from "./pages/keys.js";
import { SessionPage } from "./pages/session.js";
import { SessionsPage } from "./pages/sessions.js";
import { SignIn } from "./pages/sign-in.js";
import { UsagePage } from "./pages/usage.js";

const NAV = [
  ["sessions", "Sessions"],
  ["connections", "Connections"],
  ["usage", "Usage"],
  ["budget", "Budget"],
  ["keys", "API keys"],
] as const;

/** The signed-in console: a header with the pages, then the page the hash names. */
export function App() {
  const [signedIn, setSignedIn] = useState(() => Key.get() !== null);
  const hash = useHash();
  useEffect(() => whenUnauthorized(() => signOut("Your API key was refused: sign in again.")), []);
  const [notice, setNotice] = useState<string>();

  function signOut(message?: string) {
    Key.clear();
    setNotice(message);
    setSignedIn(false);
    // Nothing of the signed-in pages stays in the address bar either.
    history.replaceState(null, "", location.pathname);
  }

  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          setNotice(undefined);
          setSignedIn(true);
        }}
      />
    );
  }

  const [page = "sessions", arg] = hash.replace(/^\//, "").split("/");
  const current = page === "session" ? "sessions" : page;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Nubabel</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={current === id ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page === "session" && arg ? (
          <SessionPage sessionId={decodeSegment(arg)} />
        ) : page === "connections" ? (
          <ConnectionsPage />
        ) : page === "usage" ? (
          <UsagePage />
        ) : page === "budget" ? (
          <BudgetPage />
        ) : page === "keys" ? (
          <KeysPage />
        ) : (
          <SessionsPage />
        )}
      </main>
    </>
  );
}

/** A path segment of the hash as written by the console; a mangled one is taken as it stands. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
