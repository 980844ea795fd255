//! `fse demo` with nothing configured exits 0, one JSON object per step.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::Value;

#[test]
fn fse_demo_exits_zero_and_every_step_is_ok() {
    let output = std::process::Command::new(fse_tests::fse_binary())
        .args(["demo", "--format", "json"])
        .env_remove("FSE_RULES")
        .env_remove("FSE_CONFIG")
        .env_remove("FSE_PROFILE")
        .output()
        .expect("running fse demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "fse demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "pki",
            "simulator",
            "build",
            "validate",
            "sign",
            "publish",
            "status",
            "obscure",
            "replace",
            "delete",
            "journal"
        ]
    );
    assert!(steps.iter().all(|s| s["ok"] == Value::Bool(true)));
    for s in &steps[5..10] {
        assert!(s["cart_id"].as_str().is_some_and(|c| c.len() == 36), "{s}");
        assert!(s["http_status"].as_u64().is_some(), "{s}");
    }
}
