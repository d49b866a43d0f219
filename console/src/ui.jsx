// Small pieces every page uses: the confirmation every action goes through, the outcome line, the
// theme, the keyboard shortcuts and how times are shown.
import { useEffect, useRef, useState } from "preact/hooks";

/// Runs `command` against the API after the person confirmed `what`; the server's one-line answer
/// (accepted or refused) goes to `onOutcome`.
export function useAction(session, id, onOutcome, reload) {
  const [asking, setAsking] = useState(null);
  const answered = useRef(0);
  // `onDone` runs once the server accepted (a form clears itself then, never before: a refusal or
  // a cancel keeps what was typed).
  const ask = (what, body, label = "Confirm", onDone) => setAsking({ what, body, label, onDone });
  const confirm = async () => {
    const { body, onDone } = asking;
    setAsking(null);
    try {
      const reply = await session.call("POST", `/incidents/${encodeURIComponent(id)}`, body);
      onOutcome({ ok: true, text: reply.message, n: ++answered.current });
      onDone?.();
    } catch (e) {
      const missing = e.missing?.length ? ` Missing: ${e.missing.join("; ")}` : "";
      onOutcome({ ok: false, text: `Refused: ${e.message}${missing}`, n: ++answered.current });
    }
    reload();
  };
  const dialog = asking && <Confirm what={asking.what} label={asking.label} onYes={confirm} onNo={() => setAsking(null)} />;
  return [ask, dialog];
}

function Confirm({ what, label, onYes, onNo }) {
  const ref = useRef(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} class="confirm" onCancel={onNo} aria-label="confirm">
      <p>{what}</p>
      <div class="buttons">
        <button type="button" class="primary" onClick={onYes}>
          {label}
        </button>
        <button type="button" onClick={onNo}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

export function Outcome({ outcome }) {
  if (!outcome) return null;
  return (
    <p class={outcome.ok ? "outcome ok" : "outcome refused"} role="status" data-testid="outcome" data-n={outcome.n}>
      {outcome.text}
    </p>
  );
}

/// Dark by the system's preference unless the person chose; the choice is the only thing stored.
export function useTheme() {
  const initial = localStorage.getItem("theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const [theme, setTheme] = useState(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () =>
    setTheme((t) => {
      const next = t === "dark" ? "light" : "dark";
      localStorage.setItem("theme", next);
      return next;
    });
  return [theme, toggle];
}

/// `/` focuses the filter, `b` goes to the board, `o` to who is on call, `w` to the weekly review, `c` to the COE, `i` to the incident, `t` switches
/// the theme, `?` lists them. Pages add their own (`a` approve, `n` note) through data-key buttons.
export function Shortcuts({ onTheme }) {
  const [help, setHelp] = useState(false);
  useEffect(() => {
    const on = (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const tag = e.target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || document.querySelector("dialog[open]")) return;
      const incident = location.hash.match(/^#\/incidents\/([A-Za-z0-9-]+)/)?.[1];
      const keyed = document.querySelector(`[data-key="${CSS.escape(e.key)}"]`);
      if (e.key === "/") {
        document.querySelector("[data-filter]")?.focus();
      } else if (e.key === "b") {
        location.hash = "#/";
      } else if (e.key === "o") {
        location.hash = "#/oncall";
      } else if (e.key === "w") {
        location.hash = "#/review";
      } else if (e.key === "c" && incident) {
        location.hash = `#/incidents/${incident}/coe`;
      } else if (e.key === "i" && incident) {
        location.hash = `#/incidents/${incident}`;
      } else if (e.key === "t") {
        onTheme();
      } else if (e.key === "?") {
        setHelp((h) => !h);
      } else if (keyed) {
        keyed.focus();
        keyed.click();
      } else {
        return;
      }
      e.preventDefault();
    };
    addEventListener("keydown", on);
    return () => removeEventListener("keydown", on);
  }, [onTheme]);
  if (!help) return null;
  return (
    <aside class="help" aria-label="keyboard shortcuts">
      <p>
        <kbd>/</kbd> filter · <kbd>b</kbd> board · <kbd>o</kbd> on call · <kbd>w</kbd> weekly review · <kbd>i</kbd> incident · <kbd>c</kbd> COE · <kbd>a</kbd> approve ·{" "}
        <kbd>n</kbd> note · <kbd>r</kbd> refresh · <kbd>t</kbd> theme · <kbd>?</kbd> this help
      </p>
    </aside>
  );
}

export function when(at) {
  if (!at) return "—";
  const d = new Date(at);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function ago(at) {
  const minutes = Math.round((Date.now() - new Date(at).getTime()) / 60000);
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} d ago`;
}

export function severity(s) {
  return s ? s.toUpperCase() : "untriaged";
}

/// `GET path` of the command API: its data (null until the first answer) and the API's one-line
/// error, read again every `seconds` while the page is visible (never with `seconds` 0) and
/// whenever `path` or `key` changes; `reload` reads it now.
export function useApi(session, path, seconds, key) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const reload = () =>
    session.call("GET", path).then(
      (r) => {
        setData(r.data);
        setError("");
      },
      (e) => setError(e.message),
    );
  useEffect(() => {
    reload();
    if (!seconds) return undefined;
    const timer = setInterval(() => document.visibilityState === "visible" && reload(), seconds * 1000);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session, path, seconds, key]);
  return [data, error, reload];
}
