// The weekly operational review, computed by the server from the week's incidents (the same
// report the review function publishes): counts by severity, service and team, time to detect,
// engage, acknowledge and mitigate with their trend, detection self-critique, COEs due, action
// items, on-call load, repeats and what to change centrally.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { useApi, when } from "./ui.jsx";

function minutes(secs) {
  if (secs === null || secs === undefined) return "—";
  return secs < 90 ? `${secs} s` : `${Math.round(secs / 60)} min`;
}

function Bars({ title, counts }) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  const most = Math.max(1, ...entries.map(([, n]) => n));
  return (
    <figure class="bars" aria-label={title}>
      <figcaption>{title}</figcaption>
      {entries.length === 0 && <p class="missing">none</p>}
      {entries.map(([name, n]) => (
        <div class="bar-row">
          <span class="bar-name">{name}</span>
          <span class="hbar" style={{ width: `${(n / most) * 100}%` }} />
          <span class="bar-n">{n}</span>
        </div>
      ))}
    </figure>
  );
}

/// A figure's p50 over the last weeks, as a line.
function Trend({ figure }) {
  const ref = useRef(null);
  useEffect(() => {
    const xs = figure.trend.map((_, n) => n);
    const ys = figure.trend.map((p) => (p.p50_secs === null ? null : p.p50_secs / 60));
    const style = getComputedStyle(document.documentElement);
    const colour = (name) => style.getPropertyValue(name).trim() || "#888";
    const plot = new uPlot(
      {
        width: 320,
        height: 120,
        legend: { show: false },
        series: [{}, { stroke: colour("--accent"), width: 2, spanGaps: true, points: { show: true } }],
        axes: [
          { stroke: colour("--muted"), values: (_, ticks) => ticks.map((t) => figure.trend[t]?.week.slice(5) || "") },
          { stroke: colour("--muted"), label: "p50 min" },
        ],
        scales: { x: { time: false } },
      },
      [xs, ys],
      ref.current,
    );
    return () => plot.destroy();
  }, [figure]);
  return <div class="trend" ref={ref} />;
}

export function Review({ session }) {
  const [week, setWeek] = useState("");
  const [report, error] = useApi(session, `/review${week ? `?week=${encodeURIComponent(week)}` : ""}`, 300);
  const [typed, setTyped] = useState("");
  return (
    <main>
      <h1>Weekly review {report && <span class="id">{report.week}</span>}</h1>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setWeek(typed.trim());
        }}
      >
        <input value={typed} onInput={(e) => setTyped(e.target.value)} placeholder="2026-W49 (this week when empty)" aria-label="week" />
        <button type="submit">Show</button>
      </form>
      {error && <p class="error">{error}</p>}
      {report && (
        <>
          <p data-testid="review-summary">
            {report.incidents.length} incidents ({report.exercises} game days); {report.detection.incidents} real. Game days are counted apart: the charts and figures are of real incidents.
          </p>
          <div class="charts">
            <Bars title="By severity" counts={report.by_severity} />
            <Bars title="By service" counts={report.by_service} />
            <Bars title="By team" counts={report.by_team} />
          </div>
          <h2>How fast</h2>
          <table class="figures">
            <thead>
              <tr>
                <th>Figure</th>
                <th>Incidents</th>
                <th>p50</th>
                <th>p90</th>
                <th>p50 by week</th>
              </tr>
            </thead>
            <tbody>
              {report.times.map((f) => (
                <tr data-figure={f.name}>
                  <td>
                    {f.name}
                    <div class="why">{f.measured}</div>
                  </td>
                  <td>{f.count}</td>
                  <td>{minutes(f.p50_secs)}</td>
                  <td>{minutes(f.p90_secs)}</td>
                  <td>
                    <Trend figure={f} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Detection</h2>
          {report.detection.customer_first.length === 0 && report.detection.no_alarm.length === 0 && <p>Our monitoring saw every real incident first.</p>}
          <ul>
            {report.detection.customer_first.map((c) => (
              <li>
                {c.incident}: customers first{c.lead_secs !== null ? `, ${minutes(c.lead_secs)} ahead` : "; our monitoring never saw it"}
              </li>
            ))}
            {report.detection.no_alarm.map((n) => (
              <li>
                {n.incident}: no alarm saw it — proposed: {n.proposed}
              </li>
            ))}
          </ul>
          <h2>COEs</h2>
          {report.coes.length === 0 && <p>No COE due or late.</p>}
          <ul>
            {report.coes.map((c) => (
              <li>
                {c.incident} ({c.owner}) {c.state === "late" ? "LATE" : "due"} {when(c.due)}: {c.gaps.join("; ")}
              </li>
            ))}
          </ul>
          <h2>Action items</h2>
          <p>
            {report.actions.overdue.length} overdue, {report.actions.closed.length} closed this week.
          </p>
          <h2>Repeats, recurring causes and proposals</h2>
          <ul>
            {report.repeats.map((r) => (
              <li>
                {r.incident} repeats {r.earlier}: {r.what}
              </li>
            ))}
            {report.recurring.map((r) => (
              <li>
                {r.category} recurs in {r.incidents.join(", ")} ({r.teams.join(", ")})
              </li>
            ))}
            {report.proposals.map((p) => (
              <li>
                {p.learning} ({p.category}): {p.text} — {p.level} → {p.next}
              </li>
            ))}
          </ul>
          {report.unreadable.length > 0 && <p class="error">Unreadable records: {report.unreadable.join("; ")}</p>}
        </>
      )}
    </main>
  );
}
