// One incident: its facts, the approval waiting with its candidates, the closing checklist,
// customer updates, notes and the timeline; the COE on its own tab. Every action is confirmed by
// name first and its answer (accepted or the API's refusal) shown in one line.
import { useState } from "preact/hooks";
import { Coe } from "./coe.jsx";
import { Evidence } from "./evidence.jsx";
import { Outcome, severity, useAction, useApi, when } from "./ui.jsx";

export function IncidentPage({ session, id, tab }) {
  const [page, error, load] = useApi(session, `/incidents/${encodeURIComponent(id)}`, 10);
  const [outcome, setOutcome] = useState(null);
  const [ask, dialog] = useAction(session, id, setOutcome, load);
  if (error) return <main><p class="error">{error}</p></main>;
  if (!page) return <main><p>Loading…</p></main>;
  const i = page.incident;
  return (
    <main>
      <p class="crumbs">
        <a href="#/">Incidents</a> / <span>{i.id}</span>
      </p>
      <h1>
        <span class={`sev sev-${i.severity || "none"}`}>{severity(i.severity)}</span> {i.title || i.id}
        {i.exercise && <span class="tag">game day</span>}
      </h1>
      <button type="button" class="quiet refresh" data-key="r" onClick={load}>
        Refresh (r)
      </button>
      <nav class="tabs">
        <a href={`#/incidents/${encodeURIComponent(id)}`} aria-current={tab !== "coe" ? "page" : undefined}>
          Incident (i)
        </a>
        <a href={`#/incidents/${encodeURIComponent(id)}/coe`} aria-current={tab === "coe" ? "page" : undefined}>
          COE (c)
        </a>
      </nav>
      <Outcome outcome={outcome} />
      {dialog}
      {tab === "coe" ? (
        <Coe page={page} ask={ask} />
      ) : (
        <>
          <Facts page={page} />
          <Approval page={page} ask={ask} />
          <Checklist page={page} ask={ask} />
          <Updates page={page} ask={ask} />
          <Note ask={ask} id={i.id} />
          <Evidence session={session} page={page} />
          <Signals signals={page.signals} contributors={page.contributors} />
          <Timeline entries={page.timeline} />
        </>
      )}
    </main>
  );
}

function Facts({ page }) {
  const i = page.incident;
  const triage = page.timeline.find((e) => e.kind === "triaged" && /^SEV\d/.test(e.text));
  const acked = i.acknowledged_by ? `${i.acknowledged_by} at ${when(i.acknowledged_at)}` : "not yet";
  const short = (to) => (to.startsWith("arn:") ? to.split(":").pop() : to);
  const paged = [...new Set((i.pages || []).map((p) => `${short(p.to)} (${p.team}, ${p.channel}${p.failed ? ", failed" : ""})`))];
  return (
    <section aria-label="facts">
      <h2>Facts</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>{i.status}</dd>
        <dt>Severity</dt>
        <dd>
          {severity(i.severity)}
          {triage && <div class="why">{triage.text}</div>}
        </dd>
        <dt>Services</dt>
        <dd>{(i.services || []).join(", ")}</dd>
        <dt>Owner</dt>
        <dd>{i.owner || "—"}</dd>
        <dt>Commander</dt>
        <dd>{i.commander || "—"}</dd>
        {(i.flapping || []).length > 0 && (
          <>
            <dt>Flapping</dt>
            <dd>{i.flapping.join(", ")}</dd>
          </>
        )}
        {(i.aws_events || []).length > 0 && (
          <>
            <dt>AWS-side</dt>
            <dd>{i.aws_events.join("; ")}</dd>
          </>
        )}
        <dt>Paged</dt>
        <dd>{paged.length ? paged.join("; ") : "nobody yet"}</dd>
        <dt>Acknowledged</dt>
        <dd>{acked}</dd>
        <dt>Impact started</dt>
        <dd>{when(i.impact_started_at)}</dd>
        <dt>Detected</dt>
        <dd>{when(i.detected_at)}</dd>
        <dt>Mitigated</dt>
        <dd>{i.mitigated_at ? `${when(i.mitigated_at)} by ${i.mitigated_by || "?"}` : "not yet"}</dd>
        <dt>Resolved</dt>
        <dd>{i.resolved_at ? `${when(i.resolved_at)} by ${i.resolved_by || "?"}` : "not yet"}</dd>
      </dl>
    </section>
  );
}

const placeholder = (v) => /^<.*>$/.test(v);

function Approval({ page, ask }) {
  const a = page.approval;
  const [given, setGiven] = useState({});
  const [reason, setReason] = useState("");
  if (!a) {
    return (
      <section aria-label="mitigation">
        <h2>Mitigation</h2>
        <p>No runbook has been proposed.</p>
      </section>
    );
  }
  const open = !a.decision && !a.expired;
  const approve = (c, n) => {
    const parameters = Object.fromEntries(Object.keys(c.parameters || {}).filter((k) => given[k]).map((k) => [k, given[k]]));
    const named = Object.entries(parameters).map(([k, v]) => `${k}=${v}`).join(", ");
    ask(
      `Approve ${c.runbook} (candidate ${n}) on ${a.incident}${named ? ` with ${named}` : ""}? It starts the runbook now.`,
      { command: "approve", approval_id: a.id, candidate: n, confirm_roll_forward: c.requires_confirmation, parameters, reason: reason || null },
      "Approve",
    );
  };
  return (
    <section aria-label="mitigation">
      <h2>Mitigation</h2>
      <p>
        Approval <code>{a.id}</code> requested {when(a.requested_at)} from {page.approvers.join(", ") || "nobody"}
        {a.decision && ` — ${a.decision.approved ? "approved" : "rejected"} by ${a.decision.by}`}
        {a.expired && " — expired"}
      </p>
      <ol class="candidates" start="0">
        {a.candidates.map((c, n) => (
          <li class={n === a.offered ? "offered" : ""} data-candidate={n}>
            <strong>{c.runbook}</strong> <span class="tag">{c.kind}</span>
            {n === a.offered && open && <span class="tag">offered</span>}
            <p>{c.rationale}</p>
            {Object.keys(c.parameters || {}).length > 0 && (
              <p class="params">
                {Object.entries(c.parameters).map(([k, v]) => (
                  <code>{`${k}=${v}`} </code>
                ))}
              </p>
            )}
            {c.evidence?.length > 0 && (
              <ul class="evidence">
                {c.evidence.map((e) => (
                  <li>{e}</li>
                ))}
              </ul>
            )}
            {open && n === a.offered && (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  approve(c, n);
                }}
              >
                {Object.entries(c.parameters || {})
                  .filter(([, v]) => placeholder(v))
                  .map(([k, v]) => (
                    <label>
                      {k} ({v})
                      <input required value={given[k] || ""} onInput={(e) => setGiven({ ...given, [k]: e.target.value })} aria-label={k} />
                    </label>
                  ))}
                <label>
                  Reason (optional)
                  <input value={reason} onInput={(e) => setReason(e.target.value)} aria-label="reason" />
                </label>
                <div class="buttons">
                  <button type="submit" class="primary" data-key="a">
                    Approve (a)
                  </button>
                  <button
                    type="button"
                    onClick={() =>
                      ask(`Reject ${c.runbook} on ${a.incident}? The next candidate is offered, if any.`, { command: "reject", approval_id: a.id, reason: reason || null }, "Reject")
                    }
                  >
                    Reject
                  </button>
                </div>
              </form>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Checklist({ page, ask }) {
  const i = page.incident;
  const [answers, setAnswers] = useState({});
  const [force, setForce] = useState("");
  return (
    <section aria-label="closing checklist">
      <h2>Closing checklist</h2>
      <ul class="checklist">
        {page.checklist.map((item) => (
          <li class={item.met ? "met" : "unmet"}>
            <span aria-hidden="true">{item.met ? "✓" : "○"}</span> {item.text}
          </li>
        ))}
      </ul>
      {(i.open_checks || []).map((q, n) =>
        i.check_answers?.[q] ? null : (
          <form
            class="answer"
            onSubmit={(e) => {
              e.preventDefault();
              ask(`Answer question ${n + 1} on ${i.id} as: “${answers[n] || ""}”?`, {
                command: "answer_check",
                n: n + 1,
                text: answers[n] || "",
              }, "Answer");
            }}
          >
            <label>
              {`${n + 1}. ${q}`}
              <textarea required value={answers[n] || ""} onInput={(e) => setAnswers({ ...answers, [n]: e.target.value })} />
            </label>
            <button type="submit">Answer {n + 1}</button>
          </form>
        ),
      )}
      {i.status !== "resolved" && (
        <>
          <div class="buttons">
            <button
              type="button"
              onClick={() => ask(`Resolve ${i.id}? It is refused while the checklist above is not met.`, { command: "resolve" }, "Resolve")}
            >
              Resolve
            </button>
          </div>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              ask(
                `Resolve ${i.id} with the checklist not met? The override and your reason “${force}” go on the record and into the COE.`,
                { command: "resolve", force_reason: force },
                "Resolve anyway",
              );
            }}
          >
            <input required value={force} onInput={(e) => setForce(e.target.value)} placeholder="Why resolve with items missing" aria-label="override reason" />
            <button type="submit">Resolve anyway</button>
          </form>
        </>
      )}
    </section>
  );
}

function Updates({ page, ask }) {
  const i = page.incident;
  const [text, setText] = useState("");
  if (!i.customer_facing && !(i.customer_updates || []).length) return null;
  return (
    <section aria-label="customer updates">
      <h2>Customer updates</h2>
      <p class="due" data-testid="update-due">{page.update_due}</p>
      <p class="why">Draft: {page.update_draft}</p>
      <ul>
        {(i.customer_updates || []).map((u) => (
          <li>
            {u.n}. {when(u.at)} by {u.by} — {u.text}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          ask(`Publish this customer update on ${i.id}${text ? "" : " (the drafted text)"}?`, { command: "update", text: text || null }, "Publish");
        }}
      >
        <textarea placeholder="Leave empty to publish the draft the loop writes" value={text} onInput={(e) => setText(e.target.value)} aria-label="update text" />
        <button type="submit">Publish update</button>
      </form>
    </section>
  );
}

function Note({ ask, id }) {
  const [text, setText] = useState("");
  const [links, setLinks] = useState("");
  return (
    <section aria-label="add a note">
      <h2>Add a note</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const l = links.split(/\s+/).filter(Boolean);
          ask(`Add this note to ${id}'s timeline?`, { command: "note", text, links: l }, "Add note", () => {
            setText("");
            setLinks("");
          });
        }}
      >
        <textarea data-key="n" required placeholder="What you saw or did (n)" value={text} onInput={(e) => setText(e.target.value)} aria-label="note" />
        <input placeholder="Links (https://…), space separated" value={links} onInput={(e) => setLinks(e.target.value)} aria-label="links" />
        <button type="submit">Add note</button>
      </form>
    </section>
  );
}

function Signals({ signals, contributors }) {
  return (
    <section aria-label="signals">
      <h2>Signals ({signals.length})</h2>
      {contributors.length > 0 && (
        <ul class="contributors" aria-label="contributors">
          {contributors.map((c) => (
            <li>{c}</li>
          ))}
        </ul>
      )}
      <table>
        <tbody>
          {signals.map((s) => (
            <tr>
              <td>{when(s.at)}</td>
              <td>{s.source}</td>
              <td>{s.resource}</td>
              <td>{s.health}</td>
              <td>{s.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Timeline({ entries }) {
  const [kind, setKind] = useState("");
  const kinds = [...new Set(entries.map((e) => e.kind))].sort();
  const shown = entries.filter((e) => !kind || e.kind === kind);
  return (
    <section aria-label="timeline">
      <h2>Timeline</h2>
      <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="timeline kind">
        <option value="">Every kind ({entries.length})</option>
        {kinds.map((k) => (
          <option value={k}>{k}</option>
        ))}
      </select>
      <ol class="timeline">
        {shown.map((e) => (
          <li data-kind={e.kind}>
            <time>{when(e.at)}</time> <span class="tag">{e.kind}</span> <span class="actor">{e.actor}</span>
            <p>{e.text}</p>
            {(e.links || []).map((l) =>
              /^https:\/\//.test(l) ? (
                <a href={l} rel="noopener noreferrer nofollow" target="_blank">
                  {l}
                </a>
              ) : (
                <code>{l}</code>
              ),
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
