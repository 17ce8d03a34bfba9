import { useState, type FormEvent } from "react";
import { api, describeError } from "../api/client";
import { v1 } from "../api/routes";
import { signIn } from "../api/session";
import type { UserResponse } from "../api/types";

/** Sign in with an API key: checked with GET /v1/me, then kept in sessionStorage only. */
export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api<UserResponse>(v1.me, { key: key.trim() });
      signIn(key.trim());
      onSignedIn();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const problem = error ? describeError(error) : null;
  return (
    <main id="main" className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to mreg</h1>
        <p className="muted">
          Use an API key (it starts with <code>mreg_</code>). It stays in this tab only and is forgotten when you sign out or close the tab.
        </p>
        {notice ? (
          <p className="inline-error" role="alert">
            {notice}
          </p>
        ) : null}
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby={problem ? "sign-in-error" : undefined}
        />
        {problem ? (
          <p id="sign-in-error" className="inline-error" role="alert">
            {problem.title === "Signed out" ? "This key was not accepted." : `${problem.title}: ${problem.detail}`}
          </p>
        ) : null}
        <button type="submit" className="button button-primary" disabled={busy || key.trim() === ""}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p className="muted small">
          Locally, the first admin key is in <code>.mreg/admin-key</code>.
        </p>
      </form>
    </main>
  );
}
