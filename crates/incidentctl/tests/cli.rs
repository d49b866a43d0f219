//! incidentctl's errors for the things a person gets wrong, with no stack needed.

use std::process::{Command, Output};

fn incidentctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incidentctl"));
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("incidentctl runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_malformed_incident_id_is_refused_before_any_call() {
    let out = incidentctl(&["show", "inc-12zz"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(out.status.code(), Some(2), "a command line that cannot be read");
    assert!(
        stderr(&out).contains("'inc-12zz' is not an incident id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_endpoint_says_so_with_a_hint() {
    let out = incidentctl(
        &["list"],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "failed, as opposed to refused or not found");
    let err = stderr(&out);
    assert!(err.contains("hint: cannot reach http://127.0.0.1:9"), "{err}");
}

#[test]
fn an_invalid_catalog_lists_every_problem_before_any_call() {
    let dir = std::env::temp_dir().join(format!("incidentctl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog.yaml");
    std::fs::write(
        &file,
        "teams: [{name: a}]\nsettings: {default_owner: a, incident_response_team: a, support_team: nobody}\n\
         services: [{name: s, owner: ghost, tier: 7}]\n",
    )
    .unwrap();
    let out = incidentctl(
        &["catalog", "import", file.to_str().unwrap()],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for problem in ["owner team 'ghost'", "tier 7", "support_team: team 'nobody'"] {
        assert!(err.contains(problem), "{problem} in {err}");
    }
}

#[test]
fn a_link_that_is_not_http_is_refused() {
    let out = incidentctl(
        &[
            "report",
            "--service",
            "checkout",
            "--summary",
            "x",
            "--link",
            "file:///etc/passwd",
        ],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("'file:///etc/passwd' is not an http(s) URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_override_without_a_reason_is_refused_before_any_call() {
    let id = "inc-0123456789abcdef0123";
    let offline = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9")];
    let out = incidentctl(&["resolve", id, "--force"], &offline);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
    let out = incidentctl(&["resolve", id, "--reason", "because"], &offline);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
}

#[test]
fn an_update_is_either_the_draft_or_text() {
    let out = incidentctl(
        &["update", "inc-0123456789abcdef0123", "--draft", "we found it"],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
}
