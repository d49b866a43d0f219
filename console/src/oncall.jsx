// Who is on call now, in every layer of every team with rotations, and who is next from when —
// computed on the server from the catalog's rotations and overrides, as `incidentctl oncall` shows.
import { useApi, when } from "./ui.jsx";

const who = (o) => (o ? `${o.person} (${o.via})` : "nobody");

export function OnCall({ session }) {
  const [rows, error] = useApi(session, "/oncall", 60);
  return (
    <main>
      <h1>On call now</h1>
      {error && <p class="error">{error}</p>}
      {!rows && !error && <p>Loading…</p>}
      {rows && rows.length === 0 && <p>No team has rotations in the catalog.</p>}
      {rows && rows.length > 0 && (
        <table class="oncall">
          <thead>
            <tr>
              <th>Team</th>
              <th>Layer</th>
              <th>On call</th>
              <th>Until</th>
              <th>Next</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-team={r.team}>
                <td>{r.team}</td>
                <td>{r.layer}</td>
                <td>{who(r.now)}</td>
                <td>{when(r.next_at)}</td>
                <td>{who(r.next)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
