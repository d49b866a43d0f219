// The console: sign in, the board, an incident, its COE. Every change is a command API call as the
// signed-in person; the server decides and answers in one line, which is shown as it is (as text).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { signIn } from "./session.js";
import { Board } from "./board.jsx";
import { IncidentPage } from "./incident.jsx";
import { OnCall } from "./oncall.jsx";
import { Review } from "./review.jsx";
import { Shortcuts, useTheme } from "./ui.jsx";
import "./style.css";

/// Where the person is: `#/` the board, `#/incidents/<id>` an incident, `#/incidents/<id>/coe` its COE.
function useRoute() {
  const read = () => {
    if (location.hash === "#/oncall") return { oncall: true };
    if (location.hash === "#/review") return { review: true };
    const m = location.hash.match(/^#\/incidents\/([A-Za-z0-9-]+)(\/coe)?$/);
    return m ? { incident: m[1], tab: m[2] ? "coe" : "incident" } : { incident: null };
  };
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function SignIn({ config, onSession }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    setBusy(true);
    setError("");
    try {
      onSession(await signIn(config, String(form.get("username")), String(form.get("password"))));
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>incident-loop</h1>
      <form onSubmit={submit} aria-label="sign in">
        <label>
          User name <input name="username" autocomplete="username" required autofocus />
        </label>
        <label>
          Password <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function App() {
  const [config, setConfig] = useState(null);
  const [configError, setConfigError] = useState("");
  const [session, setSession] = useState(null);
  const [theme, toggleTheme] = useTheme();
  const route = useRoute();
  useEffect(() => {
    fetch("config.json", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`config.json: ${r.status}`))))
      .then(setConfig, (e) => setConfigError(`the console is not configured (${e.message}); run scripts/console-publish`));
  }, []);
  useEffect(() => {
    if (!session) return undefined;
    const left = session.expires.getTime() - Date.now();
    const timer = setTimeout(() => setSession(null), Math.max(0, left - 30_000));
    return () => clearTimeout(timer);
  }, [session]);
  if (configError) return <p class="error">{configError}</p>;
  if (!config) return <p>Loading…</p>;
  if (!session) return <SignIn config={config} onSession={setSession} />;
  return (
    <>
      <header class="bar">
        <a href="#/" class="brand">
          incident-loop
        </a>
        <a href="#/oncall">On call (o)</a>
        <a href="#/review">Review (w)</a>
        <span class="who">
          signed in as <strong>{session.username}</strong>
        </span>
        <button type="button" class="quiet" onClick={toggleTheme} title="Switch light and dark (t)">
          {theme === "dark" ? "Light" : "Dark"}
        </button>
        <button type="button" class="quiet" onClick={() => setSession(null)}>
          Sign out
        </button>
      </header>
      <Shortcuts onTheme={toggleTheme} />
      {route.oncall ? (
        <OnCall session={session} />
      ) : route.review ? (
        <Review session={session} />
      ) : route.incident ? (
        <IncidentPage key={route.incident} session={session} id={route.incident} tab={route.tab} />
      ) : (
        <Board session={session} />
      )}
    </>
  );
}

render(<App />, document.getElementById("app"));
