// The evidence captured for an incident: each alarm metric charted from the captured data (only
// objects still as captured) with impact start, mitigation and recovery marked, and every
// capture's manifest with what verifying it against the stored bytes found now.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useApi, when } from "./ui.jsx";

export function Evidence({ session, page }) {
  const id = page.incident.id;
  const captures = (page.timeline || []).filter((e) => e.kind === "evidence").length;
  // Read once, and again when a capture is added (not with every refresh of the page).
  const [evidence, error] = useApi(session, `/incidents/${encodeURIComponent(id)}/evidence`, 0, captures);
  const marks = markers(page);
  return (
    <section aria-label="evidence">
      <h2>Evidence</h2>
      {error && <p class="error">{error}</p>}
      {!evidence && !error && <p>Loading…</p>}
      {evidence && evidence.series.length === 0 && <p class="missing">No metric data captured.</p>}
      {evidence && evidence.series.map((s) => <Chart series={s} marks={marks} />)}
      {evidence && <Manifests captures={evidence.captures} />}
    </section>
  );
}

/// Impact start, mitigation and the alarms' return to OK, as the incident records them.
function markers(page) {
  const i = page.incident;
  const recovered = (page.timeline || []).filter((e) => e.kind === "recovery").map((e) => e.at).pop();
  return [
    ["impact start", i.impact_started_at],
    ["mitigated", i.mitigated_at],
    ["alarms OK", recovered],
  ].filter(([, at]) => at);
}

function Chart({ series, marks }) {
  const ref = useRef(null);
  useEffect(() => {
    const xs = series.points.map(([t]) => new Date(t).getTime() / 1000);
    const ys = series.points.map(([, v]) => v);
    const style = getComputedStyle(document.documentElement);
    const colour = (name) => style.getPropertyValue(name).trim() || "#888";
    const lines = marks.map(([label, at]) => [label, new Date(at).getTime() / 1000]);
    const plot = new uPlot(
      {
        width: Math.min(ref.current.clientWidth || 800, 1060),
        height: 220,
        series: [{}, { label: series.label, stroke: colour("--accent"), width: 2, points: { show: true } }],
        axes: [{ stroke: colour("--muted") }, { stroke: colour("--muted") }],
        hooks: {
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              ctx.font = `${12 * devicePixelRatio}px system-ui`;
              ctx.fillStyle = ctx.strokeStyle = colour("--sev2");
              for (const [label, x] of lines) {
                const px = u.valToPos(x, "x", true);
                if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) continue;
                ctx.beginPath();
                ctx.setLineDash([6, 4]);
                ctx.moveTo(px, u.bbox.top);
                ctx.lineTo(px, u.bbox.top + u.bbox.height);
                ctx.stroke();
                ctx.fillText(label, px + 4, u.bbox.top + 14 * devicePixelRatio);
              }
              ctx.restore();
            },
          ],
        },
      },
      [xs, ys],
      ref.current,
    );
    return () => plot.destroy();
  }, [series, marks]);
  return (
    <figure class="chart" data-alarm={series.alarm}>
      <figcaption>
        {series.alarm} — {series.label} ({series.points.length} points)
      </figcaption>
      <div ref={ref} />
    </figure>
  );
}

function Manifests({ captures }) {
  if (!captures.length) return <p class="missing">Nothing captured yet.</p>;
  return (
    <table class="manifests">
      <thead>
        <tr>
          <th>Capture</th>
          <th>Window</th>
          <th>Objects</th>
          <th>Verified now</th>
        </tr>
      </thead>
      <tbody>
        {captures.map(({ manifest: m, findings, intact }) => (
          <tr data-capture={m.capture}>
            <td>
              <code>{m.capture}</code> <span class="tag">{m.moment}</span>
            </td>
            <td>
              {when(m.window.from)} → {when(m.window.to)}
            </td>
            <td>
              {m.objects.map((o) => (
                <div>
                  {o.source}: {o.items} items{o.truncated ? ` (truncated, ${o.dropped} dropped)` : ""} <code title={o.sha256}>{o.sha256.slice(0, 12)}</code>
                </div>
              ))}
              {m.errors.map((e) => (
                <div class="error">
                  {e.source} failed after {e.attempts}: {e.error}
                </div>
              ))}
            </td>
            <td class={intact ? "ok" : "refused"}>
              {intact
                ? `intact (${findings.length} objects, SHA-256)`
                : findings
                    .filter((f) => f.status !== "intact")
                    .map((f) => `${f.status}: ${f.key}`)
                    .join("; ")}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
