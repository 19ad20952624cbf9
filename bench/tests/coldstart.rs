//! The harness end to end on the hello-world function: no AWS, no release build needed.

use std::process::Command;

/// `name` keeps the report files of tests running in parallel apart.
fn coldstart(name: &str, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let json = std::env::temp_dir().join(format!("ppx-coldstart-{}-{name}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_coldstart"))
        .args(["--runs", "3", "--timeout-secs", "10", "--json"])
        .arg(&json)
        .args(args)
        .output()
        .expect("coldstart runs");
    let report = std::fs::read_to_string(&json).map(|raw| serde_json::from_str(&raw).expect("JSON report"));
    let _ = std::fs::remove_file(&json);
    (output, report.unwrap_or(serde_json::Value::Null))
}

#[test]
fn measures_hello_world_cold_starts() {
    let hello = format!("{}=null", env!("CARGO_BIN_EXE_hello"));
    let (output, report) = coldstart("hello", &[&hello]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let hello = &report["functions"][0];
    assert_eq!(hello["function"], "hello");
    assert_eq!(hello["ok_runs"], 3, "{report}");
    let init = hello["init_ms"]["median"].as_f64().expect("an init time");
    let first = hello["first_invoke_ms"]["median"].as_f64().expect("a first invoke time");
    assert!(init > 0.0 && first >= init, "{report}");
    assert!(hello["peak_rss_kib"]["max"].as_u64().is_some_and(|kib| kib > 0), "{report}");
    assert!(stdout.contains("| hello | `null` |"), "{stdout}");
}

#[test]
fn a_function_that_exits_fails_its_runs() {
    let (output, report) = coldstart("exits", &["/bin/true=scheduled"]);
    assert!(!output.status.success());
    let failures = report["functions"][0]["failures"].as_array().expect("failures").clone();
    assert_eq!(failures.len(), 3, "{report}");
    assert!(failures[0].as_str().is_some_and(|f| f.contains("exited before responding")), "{report}");
}
