// The COE: what `coe check` still lacks, the impact summary, the five whys drawn as a tree with each
// leaf's action items or accepted risk, the action items with their terms and validation, the
// learnings and the customer RCA draft. Each edit is a command; the server checks and records it.
import { useState } from "preact/hooks";
import { when } from "./ui.jsx";

export function Coe({ page, ask }) {
  const id = page.incident.id;
  return (
    <>
      <section aria-label="what the COE lacks">
        <h2>What the COE still lacks</h2>
        {page.coe_gaps.length ? (
          <ul class="gaps">
            {page.coe_gaps.map((g) => (
              <li>{g}</li>
            ))}
          </ul>
        ) : (
          <p>Nothing: it can be marked complete.</p>
        )}
      </section>
      <Section
        title="Impact summary"
        current={page.authored.impact_summary}
        placeholder="Who was affected, how, for how long"
        onSave={(text) => ask(`Replace ${id}'s impact summary?`, { command: "coe_impact", text }, "Save")}
      />
      <Whys page={page} ask={ask} />
      <Actions page={page} ask={ask} />
      <Dependencies page={page} ask={ask} />
      <section aria-label="learnings">
        <h2>Learnings</h2>
        <ul>
          {page.authored.learnings.map((l) => (
            <li>{l}</li>
          ))}
        </ul>
        <OneField label="Add a learning" onSubmit={(text) => ask(`Add this learning to ${id}'s COE?`, { command: "coe_learning", text }, "Add")} />
      </section>
      <Section
        title="Customer RCA draft"
        current={page.authored.customer_rca}
        placeholder="What customers are told: what happened, what we changed"
        onSave={(text) => ask(`Replace ${id}'s customer RCA draft?`, { command: "coe_rca", text }, "Save")}
      />
      <div class="buttons">
        <button type="button" onClick={() => ask(`Publish ${id}'s COE document and open its missing tickets?`, { command: "coe_publish" }, "Publish")}>
          Publish the COE
        </button>
        <button type="button" onClick={() => ask(`Mark ${id}'s COE complete? Refused while anything above is lacking.`, { command: "coe_complete" }, "Complete")}>
          Mark complete
        </button>
      </div>
    </>
  );
}

function Section({ title, current, placeholder, onSave }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {current ? <p class="prose">{current}</p> : <p class="missing">Not written yet.</p>}
      <OneField label={`Rewrite the ${title.toLowerCase()}`} placeholder={placeholder} initial={current || ""} onSubmit={onSave} />
    </section>
  );
}

function OneField({ label, placeholder, initial = "", onSubmit }) {
  const [text, setText] = useState(initial);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(text);
      }}
    >
      <label>
        {label}
        <textarea required placeholder={placeholder} value={text} onInput={(e) => setText(e.target.value)} />
      </label>
      <button type="submit">Save</button>
    </form>
  );
}

/// The five whys as a tree: each node's children under it; a leaf shows the action items that
/// answer it, or the risk accepted instead.
function Whys({ page, ask }) {
  const nodes = page.whys.nodes || [];
  const [parent, setParent] = useState("");
  const [text, setText] = useState("");
  const children = (of) => nodes.filter((n) => (n.parent || null) === of);
  const itemsOf = (node) => page.actions.filter((a) => a.why === node);
  const draw = (of) => {
    const kids = children(of);
    if (!kids.length) return null;
    return (
      <ul class={of ? "tree" : "tree root"}>
        {kids.map((n) => {
          const leaf = children(n.id).length === 0;
          return (
            <li data-why={n.id}>
              <span class="node">
                <code>{n.id}</code> {n.text}
                {n.category && <span class="tag">{n.category}</span>}
              </span>
              {leaf && n.accepted_risk && <div class="risk">accepted risk: {n.accepted_risk}</div>}
              {leaf &&
                itemsOf(n.id).map((a) => (
                  <div class="leaf-item">
                    → {a.id} ({a.term}): {a.text}
                  </div>
                ))}
              {leaf && !n.accepted_risk && itemsOf(n.id).length === 0 && <div class="missing">no action item or accepted risk yet</div>}
              {draw(n.id)}
            </li>
          );
        })}
      </ul>
    );
  };
  return (
    <section aria-label="five whys">
      <h2>Five whys</h2>
      {nodes.length ? draw(null) : <p class="missing">No whys yet.</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const where = parent ? `under ${parent}` : "as a new root";
          ask(`Add the why “${text}” ${where} on ${page.incident.id}?`, { command: "why_add", parent: parent || null, text }, "Add why", () =>
            setText(""),
          );
        }}
      >
        <label>
          Why?
          <input required value={text} onInput={(e) => setText(e.target.value)} placeholder="Because…" aria-label="why" />
        </label>
        <select value={parent} onChange={(e) => setParent(e.target.value)} aria-label="under">
          <option value="">a new root</option>
          {nodes.map((n) => (
            <option value={n.id}>under {n.id}</option>
          ))}
        </select>
        <button type="submit">Add why</button>
      </form>
      <AcceptRisk page={page} ask={ask} />
    </section>
  );
}

function Actions({ page, ask }) {
  const [form, setForm] = useState({ term: "short", owner: page.incident.owner || "", why: "", text: "" });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  return (
    <section aria-label="action items">
      <h2>Action items</h2>
      <table>
        <thead>
          <tr>
            <th>Item</th>
            <th>Term</th>
            <th>Owner</th>
            <th>Due</th>
            <th>Answers</th>
            <th>Validation</th>
          </tr>
        </thead>
        <tbody>
          {page.actions.map((a) => (
            <tr data-action={a.id}>
              <td>
                <code>{a.id}</code> {a.text}
              </td>
              <td>{a.term}</td>
              <td>{a.owner}</td>
              <td>{when(a.due)}</td>
              <td>{a.why || "—"}</td>
              <td>{a.done ? `${a.done.evidence} (${a.done.by})` : "open"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          ask(
            `Add the ${form.term}-term action item “${form.text}” owned by ${form.owner} on ${page.incident.id}?`,
            { command: "action_add", term: form.term, owner: form.owner, why: form.why || null, text: form.text },
            "Add item",
          );
        }}
      >
        <select value={form.term} onChange={set("term")} aria-label="term">
          <option value="short">short-term (hours)</option>
          <option value="mid">mid-term (days–weeks)</option>
          <option value="long">long-term (months)</option>
        </select>
        <input required value={form.owner} onInput={set("owner")} placeholder="owner team" aria-label="owner" />
        <select value={form.why} onChange={set("why")} aria-label="answers why">
          <option value="">answers no why</option>
          {(page.whys.nodes || []).map((n) => (
            <option value={n.id}>answers {n.id}</option>
          ))}
        </select>
        <input required value={form.text} onInput={set("text")} placeholder="What will change" aria-label="action item" />
        <button type="submit">Add action item</button>
      </form>
      <CloseItem page={page} ask={ask} />
    </section>
  );
}

/// A leaf answered by accepting its risk instead of an action item.
function AcceptRisk({ page, ask }) {
  const nodes = page.whys.nodes || [];
  const [node, setNode] = useState("");
  const [reason, setReason] = useState("");
  if (!nodes.length) return null;
  return (
    <form
      class="row"
      onSubmit={(e) => {
        e.preventDefault();
        ask(`Accept the risk of ${node} on ${page.incident.id} instead of an action item, because “${reason}”?`, { command: "why_accept", node, reason }, "Accept risk");
      }}
    >
      <select required value={node} onChange={(e) => setNode(e.target.value)} aria-label="accept the risk of">
        <option value="">accept the risk of…</option>
        {nodes.map((n) => (
          <option value={n.id}>{n.id}</option>
        ))}
      </select>
      <input required value={reason} onInput={(e) => setReason(e.target.value)} placeholder="why the risk is acceptable" aria-label="risk reason" />
      <button type="submit">Accept risk</button>
    </form>
  );
}

/// An action item closes only with how it was proven.
function CloseItem({ page, ask }) {
  const open = page.actions.filter((a) => !a.done);
  const [item, setItem] = useState("");
  const [validation, setValidation] = useState("");
  if (!open.length) return null;
  return (
    <form
      class="row"
      onSubmit={(e) => {
        e.preventDefault();
        ask(`Close ${item} as validated by “${validation}”?`, { command: "action_done", item, validation }, "Close item");
      }}
    >
      <select required value={item} onChange={(e) => setItem(e.target.value)} aria-label="close item">
        <option value="">close an item…</option>
        {open.map((a) => (
          <option value={a.id}>{a.id}</option>
        ))}
      </select>
      <input required value={validation} onInput={(e) => setValidation(e.target.value)} placeholder="the proof: a pipeline run, a test, a dashboard" aria-label="validation" />
      <button type="submit">Close with proof</button>
    </form>
  );
}

/// The dependency review: the core's four questions for every dependency of the services.
function Dependencies({ page, ask }) {
  const questions = page.dependency_questions || [];
  const fields = ["performed_as_promised", "our_use_was_right", "failure_was_foreseeable", "can_degrade_gracefully"];
  const [drafts, setDrafts] = useState({});
  if (!page.dependencies.length) return null;
  const answered = (dep) => page.authored.dependencies.find((d) => d.dependency === dep) || {};
  return (
    <section aria-label="dependency review">
      <h2>Dependency review</h2>
      {page.dependencies.map((dep) => {
        const done = answered(dep);
        const draft = drafts[dep] || [];
        return (
          <form
            class="dependency"
            data-dependency={dep}
            onSubmit={(e) => {
              e.preventDefault();
              const answers = fields.map((_, n) => (draft[n] ? draft[n] : null));
              ask(`Record the review of ${dep} on ${page.incident.id}?`, { command: "coe_dependency", dependency: dep, answers }, "Record");
            }}
          >
            <h3>{dep}</h3>
            {questions.map((q, n) => (
              <label>
                {q}
                {done[fields[n]] && <span class="answered"> — {done[fields[n]]}</span>}
                <input
                  value={draft[n] || ""}
                  onInput={(e) => {
                    const next = [...draft];
                    next[n] = e.target.value;
                    setDrafts({ ...drafts, [dep]: next });
                  }}
                  placeholder={done[fields[n]] ? "keep the answer above" : "answer"}
                  aria-label={`${dep}: ${q}`}
                />
              </label>
            ))}
            <button type="submit">Record {dep}</button>
          </form>
        );
      })}
    </section>
  );
}
