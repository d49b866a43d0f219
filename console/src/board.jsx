// The board: open incidents first (the server's order), filtered by severity, service, team and
// whether they are game days; it refreshes every 15 seconds.
import { useState } from "preact/hooks";
import { ago, severity, useApi } from "./ui.jsx";

export function Board({ session }) {
  const [incidents, error, load] = useApi(session, "/incidents", 15);
  const [filter, setFilter] = useState({ severity: "", text: "", team: "", exercise: "all" });
  const all = incidents || [];
  const teams = [...new Set(all.map((i) => i.owner).filter(Boolean))].sort();
  const severities = [...new Set(all.map((i) => i.severity).filter(Boolean))].sort();
  const shown = all.filter(
    (i) =>
      (!filter.severity || i.severity === filter.severity) &&
      (!filter.team || i.owner === filter.team) &&
      (filter.exercise === "all" || String(i.exercise) === filter.exercise) &&
      (!filter.text ||
        [i.id, i.title, ...(i.services || [])].some((s) => s.toLowerCase().includes(filter.text.toLowerCase()))),
  );
  const set = (key) => (e) => setFilter({ ...filter, [key]: e.target.value });
  return (
    <main>
      <h1>Incidents</h1>
      <div class="filters" role="search">
        <input data-filter placeholder="Service, title or id ( / )" value={filter.text} onInput={set("text")} aria-label="filter" />
        <select value={filter.severity} onChange={set("severity")} aria-label="severity">
          <option value="">Every severity</option>
          {severities.map((s) => (
            <option value={s}>{severity(s)}</option>
          ))}
        </select>
        <select value={filter.team} onChange={set("team")} aria-label="team">
          <option value="">Every team</option>
          {teams.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
        <select value={filter.exercise} onChange={set("exercise")} aria-label="exercise">
          <option value="all">Real and game days</option>
          <option value="false">Real only</option>
          <option value="true">Game days only</option>
        </select>
        <button type="button" data-key="r" onClick={load}>
          Refresh
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {!incidents && !error && <p>Loading…</p>}
      {incidents && (
        <table class="board">
          <thead>
            <tr>
              <th>Severity</th>
              <th>Incident</th>
              <th>Services</th>
              <th>Owner</th>
              <th>Status</th>
              <th>Detected</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr class={i.status === "resolved" || i.status === "merged" ? "closed" : ""} data-incident={i.id}>
                <td>
                  <span class={`sev sev-${i.severity || "none"}`}>{severity(i.severity)}</span>
                </td>
                <td>
                  <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title || i.id}</a>
                  {i.exercise && <span class="tag">game day</span>}
                  <div class="id">{i.id}</div>
                </td>
                <td>{(i.services || []).join(", ")}</td>
                <td>{i.owner || "—"}</td>
                <td>{i.status}</td>
                <td title={i.detected_at}>{ago(i.detected_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {incidents && shown.length === 0 && <p>No incidents match.</p>}
    </main>
  );
}
