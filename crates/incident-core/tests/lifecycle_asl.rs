//! The lifecycle's ASL and the core agree where the ASL repeats one of the core's numbers.

use incident_core::engagement::MAX_ESCALATIONS;
use serde_json::Value;

fn find<'a>(states: &'a Value, name: &str) -> Option<&'a Value> {
    let states = states.as_object()?;
    states.get(name).or_else(|| {
        states
            .values()
            .find_map(|s| s["Branches"].as_array()?.iter().find_map(|b| find(&b["States"], name)))
    })
}

#[test]
fn escalation_stops_after_the_cores_number_of_rounds() {
    let path = format!(
        "{}/../../statemachines/incident-lifecycle.asl.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let asl: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let keep = find(&asl["States"], "KeepEscalating?").expect("the escalation loop's Choice");
    let stop = keep["Choices"][0]["NumericGreaterThanEquals"].as_u64();
    assert_eq!(stop, Some(u64::from(MAX_ESCALATIONS)));
}
