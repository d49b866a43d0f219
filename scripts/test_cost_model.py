"""Tests of scripts/cost-model: the walk follows the real ASL, fails loudly when they disagree, and prices counts.

Run: python3 -m unittest scripts/test_cost_model.py   (or python3 scripts/test_cost_model.py)
"""
import copy
import importlib.machinery
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "cost-model"
_loader = importlib.machinery.SourceFileLoader("cost_model", str(SCRIPT))
cm = importlib.util.module_from_spec(importlib.util.spec_from_loader("cost_model", _loader))
_loader.exec_module(cm)

REAL_ASL = json.loads((cm.ROOT / "statemachines/incident-lifecycle.asl.json").read_text())
TEMPLATE = cm.read_template(cm.ROOT / "template.yaml")
CADENCE = cm.update_cadence(cm.ROOT / "crates/incident-core/src/updates.rs")


def scope_of(asl, name):
    """The States dict (top level or a branch's) that holds `name`."""
    pending = [asl["States"]]
    while pending:
        states = pending.pop()
        if name in states:
            return states
        pending += [b["States"] for s in states.values() for b in s.get("Branches", [])]
    raise KeyError(name)


def with_runbook_callback(asl):
    """The announced change: StartRunbook -> AwaitRunbook (callback, 900 s, timeout -> PollRunbook) -> RunbookDone?."""
    asl = copy.deepcopy(asl)
    if "AwaitRunbook" in cm.all_states(asl):
        return asl
    states = scope_of(asl, "StartRunbook")
    states.pop("WaitForRunbook")
    states["StartRunbook"]["Next"] = "AwaitRunbook"
    states["AwaitRunbook"] = {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "${MitigateFunctionArn}",
                       "Payload": {"action": "await_runbook", "incident_id.$": "$.incident_id",
                                   "execution_id.$": "$.run.execution_id", "token.$": "$$.Task.Token"}},
        "TimeoutSeconds": 900, "ResultPath": "$.run_status",
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "PollRunbook"},
                  {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MitigationFailed"}],
        "Next": "RunbookDone?",
    }
    for choice in states["RunbookDone?"]["Choices"]:
        if choice["Next"] == "WaitForRunbook":
            choice["Next"] = "AwaitRunbook"
    return asl


def with_runbook_poll(asl):
    """The shape before the change: StartRunbook -> WaitForRunbook (Wait 10 s) -> PollRunbook -> RunbookDone?."""
    asl = copy.deepcopy(asl)
    states = scope_of(asl, "StartRunbook")
    states.pop("AwaitRunbook", None)
    states["StartRunbook"]["Next"] = "WaitForRunbook"
    states["WaitForRunbook"] = {"Type": "Wait", "Seconds": 10, "Next": "PollRunbook"}
    for choice in states["RunbookDone?"]["Choices"]:
        if choice["Next"] == "AwaitRunbook":
            choice["Next"] = "WaitForRunbook"
    return asl


def with_fixed_update_timeout(asl, seconds):
    asl = copy.deepcopy(asl)
    wait = scope_of(asl, "WaitForNextUpdate")["WaitForNextUpdate"]
    wait.pop("TimeoutSecondsPath", None)
    wait["TimeoutSeconds"] = seconds
    return asl


def rename(asl, old, new):
    """Renames a state and every reference to it."""
    text = json.dumps(asl).replace(json.dumps(old), json.dumps(new))
    return json.loads(text)


def run_report(asl):
    return cm.report(asl, TEMPLATE, CADENCE, "test ASL", 100, out=io.StringIO())


class WalkFollowsTheAsl(unittest.TestCase):
    asl = with_runbook_callback(REAL_ASL)

    def scenario_walks(self, asl=None):
        asl = asl or self.asl
        for s in cm.scenarios(cm.timing(asl), TEMPLATE, CADENCE):
            for ex in s.executions:
                yield s, ex, cm.Walk(asl, ex.script)

    def test_every_state_walked_exists_and_the_path_ends_where_the_asl_ends(self):
        states = cm.all_states(self.asl)
        for s, ex, walk in self.scenario_walks():
            with self.subTest(scenario=s.key, execution=ex.label):
                self.assertLessEqual(set(walk.visits), set(states))
                self.assertEqual(walk.visits["Triage"], 1)
                self.assertEqual(walk.visits["Resolved"], 1, "each execution ends in the Succeed state")
                self.assertEqual(walk.visits["LoopFailed"], 0)

    def test_the_runbooks_wait_on_the_new_callback_not_the_old_poll(self):
        walks = {(s.key, ex.label): w for s, ex, w in self.scenario_walks()}
        event = walks[("B", "event lifecycle")]
        self.assertEqual(event.visits["AwaitRunbook"], 2)
        self.assertEqual(event.visits["PollRunbook"], 0)
        self.assertEqual((event.visits["RecordRunbookFailed"], event.visits["RecordRunbookSucceeded"]), (1, 1))

    def test_scenario_c_escalates_up_to_the_cap_the_asl_sets(self):
        walk = next(w for s, _, w in self.scenario_walks() if s.key == "C")
        cap = cm.timing(self.asl).rounds
        self.assertEqual(walk.visits["Escalate"], cap)
        self.assertEqual(walk.visits["WaitForAcknowledgement"], cap)
        self.assertEqual(walk.visits["AwaitRecovery"], 30 * 24)

    def test_the_asl_before_the_runbook_callback_is_refused_naming_await_runbook(self):
        with self.assertRaisesRegex(cm.ModelError, "AwaitRunbook"):
            run_report(with_runbook_poll(REAL_ASL))

    def test_a_fixed_update_timeout_looks_every_so_many_minutes(self):
        asl = with_fixed_update_timeout(self.asl, 300)
        walks = {(s.key, ex.label): w for s, ex, w in self.scenario_walks(asl)}
        self.assertEqual(walks[("B", "event lifecycle")].visits["CustomerUpdateDue"], 240 // 5 + 1)
        self.assertEqual(walks[("C", "lifecycle")].visits["CustomerUpdateDue"], 30 * 1440 // 5 + 1)


class DisagreementFailsLoudly(unittest.TestCase):
    asl = with_runbook_callback(REAL_ASL)

    def test_a_renamed_state_the_scenarios_use_is_named_in_the_error(self):
        renamed = rename(self.asl, "AwaitRecovery", "AwaitAlarmsOk")
        with self.assertRaisesRegex(cm.ModelError, "AwaitRecovery"):
            run_report(renamed)

    def test_a_removed_choice_target_is_named_in_the_error(self):
        asl = copy.deepcopy(self.asl)
        states = scope_of(asl, "Stabilise")
        states.pop("Stabilise")
        states["Recovered?"]["Choices"] = [c for c in states["Recovered?"]["Choices"] if c["Next"] != "Stabilise"]
        with self.assertRaisesRegex(cm.ModelError, r"Recovered\? cannot go to 'Stabilise'"):
            run_report(asl)

    def test_a_decision_the_walk_never_reaches_is_an_error(self):
        script = cm.scenarios(cm.timing(self.asl), TEMPLATE, CADENCE)[0].executions[0].script
        with self.assertRaisesRegex(cm.ModelError, "never used.*Escalate"):
            cm.Walk(self.asl, dict(script, Escalate=["succeed"]))

    def test_a_missing_decision_is_an_error(self):
        script = cm.scenarios(cm.timing(self.asl), TEMPLATE, CADENCE)[0].executions[0].script
        with self.assertRaisesRegex(cm.ModelError, "no decision left for WaitForAcknowledgement"):
            cm.Walk(self.asl, dict(script, WaitForAcknowledgement=[]))

    def test_a_timeout_needs_a_timeout_and_a_catch(self):
        asl = copy.deepcopy(self.asl)
        del scope_of(asl, "WaitForResolution")["WaitForResolution"]["TimeoutSeconds"]
        with self.assertRaisesRegex(cm.ModelError, "WaitForResolution has no timeout"):
            cm.Walk(asl, {**cm.scenarios(cm.timing(asl), TEMPLATE, CADENCE)[0].executions[0].script,
                          "WaitForResolution": ["timeout", "complete"]})

    def test_a_lambda_step_of_unknown_usage_is_an_error(self):
        asl = copy.deepcopy(self.asl)
        scope_of(asl, "PlanMitigation")["PlanMitigation"]["Parameters"]["Payload"]["action"] = "plan_v2"
        with self.assertRaisesRegex(cm.ModelError, "no usage known for mitigate plan_v2"):
            run_report(asl)

    def test_the_command_line_prints_every_scenario_for_a_fitting_copy(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "asl.json"
            path.write_text(json.dumps(self.asl))
            run = subprocess.run([sys.executable, str(SCRIPT), "--asl", str(path)], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        for key in "ABC":
            self.assertIn(f"## Scenario {key}:", run.stdout)

    def test_the_command_line_exits_non_zero_with_the_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "asl.json"
            path.write_text(json.dumps(rename(self.asl, "WaitForResolution", "AwaitClosingChecklist")))
            run = subprocess.run([sys.executable, str(SCRIPT), "--asl", str(path)], capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertIn("WaitForResolution", run.stderr)
        self.assertEqual(run.stdout, "", "nothing is printed before every scenario is known to fit the ASL")


class Counting(unittest.TestCase):
    asl = with_runbook_callback(REAL_ASL)

    def test_parallel_counts_itself_and_every_state_of_each_branch(self):
        asl = {"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}},
                {"StartAt": "C", "States": {"C": {"Type": "Wait", "Seconds": 1, "End": True}}}]},
            "Done": {"Type": "Succeed"}}}
        walk = cm.Walk(asl, {})
        self.assertEqual(sum(walk.visits.values()), 5)
        self.assertEqual(walk.history, 2 + 4 + 2 + 2 + 2 + 2)

    def test_the_sev3_hour_total_is_its_counts_times_the_list_prices(self):
        a = run_report(self.asl)["A"]
        walk = a.walks[0][1]
        self.assertEqual(a.usage["transitions"], sum(walk.visits.values()))
        expected = {"transitions": (0.025, 1_000), "requests": (0.20, 1e6), "gb_seconds": (0.0000133334, 1),
                    "rru": (0.125, 1e6), "wru": (0.625, 1e6), "s3_put": (0.005, 1_000), "s3_get": (0.0004, 1_000),
                    "events": (1.00, 1e6), "sns": (0.50, 1e6)}
        total = sum(a.usage[k] * dollars / per for k, (dollars, per) in expected.items())
        self.assertAlmostEqual(a.total, total, places=12)
        self.assertGreater(a.usage["transitions"] * a.usage["requests"] * a.usage["wru"] * a.usage["s3_put"], 0)

    def test_one_more_state_on_the_path_costs_one_more_transition(self):
        asl = copy.deepcopy(self.asl)
        asl["States"]["Triage"]["Next"] = "Noted"
        asl["States"]["Noted"] = {"Type": "Pass", "Next": "EngageAndCaptureEvidence"}
        before, after = run_report(self.asl)["A"], run_report(asl)["A"]
        self.assertEqual(after.usage["transitions"], before.usage["transitions"] + 1)
        self.assertAlmostEqual(after.total - before.total, 0.025 / 1_000, places=12)

    def test_the_printed_report_shows_the_arithmetic_and_the_target_verdict(self):
        out = io.StringIO()
        results = cm.report(self.asl, TEMPLATE, CADENCE, "test ASL", 100, out=out)
        text, a = out.getvalue(), results["A"]
        n = a.usage["transitions"]
        self.assertIn(f"    {n} transitions × $0.025/1,000 = {cm.usd(n * 0.025 / 1000)}", text)
        verdict = "MET" if a.total <= cm.TARGET_A else "NOT MET"
        self.assertIn(f"at most $0.001000: {verdict} ({cm.usd(a.total)})", text)
        self.assertIn("Execution history of scenario C", text)

    def test_history_is_the_sum_of_per_state_events(self):
        walk = run_report(self.asl)["C"].walks[0][1]
        kinds = {n: "Callback" if cm.is_callback(walk.states[n]) else walk.states[n]["Type"] for n in walk.visits}
        self.assertEqual(walk.history, 2 + sum(v * cm.HISTORY_EVENTS[kinds[n]] for n, v in walk.visits.items()))

    def test_the_update_loop_follows_updates_due(self):
        # Nobody publishes: reminded once at the cadence, then it looks every cadence (+ the last check).
        self.assertEqual(cm.update_counts(240, 60), (5, 1, 0))
        # Support publishes 5 min after each reminder: a reminder every 35 min, two checks each.
        self.assertEqual(cm.update_counts(240, 30, lag=5), (14, 6, 6))
        self.assertEqual(cm.update_counts(240, 30, every=5, lag=5), (49, 6, 6))

    def test_the_update_cadence_and_memory_come_from_the_code(self):
        self.assertEqual(CADENCE["SEV1"], 30)
        self.assertEqual(TEMPLATE.arch, "arm64")
        self.assertTrue(all(mb >= 128 for mb in TEMPLATE.memory.values()))
        self.assertIn("reconcile", TEMPLATE.memory)


if __name__ == "__main__":
    unittest.main()
