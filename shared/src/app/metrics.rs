//! Customer messages counted by kind and outcome (sent, failed, the account refusing,
//! suppressed, a review request skipped and why), as CloudWatch embedded metric format: one JSON
//! line on stdout per message, which CloudWatch Logs turns into the metric `Messages` of the
//! stack's namespace (`PPX_METRICS_NAMESPACE`, set by the template) with the dimensions `Kind`
//! and `Outcome`; the channel rides along as a property, for Logs Insights. Nothing is written
//! when the namespace is not set (local runs, tests). A line names no one.

use chrono::{DateTime, Utc};
use std::io::Write as _;
use std::sync::OnceLock;

/// The metric each line counts.
pub const MESSAGES: &str = "Messages";

fn namespace() -> Option<&'static str> {
    static NAMESPACE: OnceLock<Option<String>> = OnceLock::new();
    NAMESPACE.get_or_init(|| std::env::var("PPX_METRICS_NAMESPACE").ok().filter(|n| !n.is_empty())).as_deref()
}

/// One embedded-metric-format line: `Messages` = 1 for `kind` and `outcome`.
pub fn emf_line(namespace: &str, at: DateTime<Utc>, kind: &str, channel: &str, outcome: &str) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Kind", "Outcome"]],
                "Metrics": [{ "Name": MESSAGES, "Unit": "Count" }],
            }],
        },
        "Kind": kind,
        "Outcome": outcome,
        "Channel": channel,
        MESSAGES: 1,
    })
    .to_string()
}

/// Counts one message of `kind` on `channel` that ended as `outcome`.
pub fn count_message(at: DateTime<Utc>, kind: &str, channel: &str, outcome: &str) {
    if let Some(namespace) = namespace() {
        let line = emf_line(namespace, at, kind, channel, outcome);
        // A lost metric line must not fail a message that went out.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_count_in_the_stacks_namespace_by_kind_and_outcome() {
        let at = DateTime::from_timestamp(1_776_765_600, 0).unwrap();
        let line = emf_line("ppx/shop-prod", at, "shipped", "email", "sent");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &json["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(json["_aws"]["Timestamp"], 1_776_765_600_000_i64);
        assert_eq!(directive["Namespace"], "ppx/shop-prod");
        assert_eq!(directive["Dimensions"], serde_json::json!([["Kind", "Outcome"]]));
        assert_eq!(directive["Metrics"][0], serde_json::json!({ "Name": "Messages", "Unit": "Count" }));
        assert_eq!(
            (&json["Kind"], &json["Outcome"], &json["Messages"]),
            (&"shipped".into(), &"sent".into(), &1.into())
        );
        assert!(!line.contains('\n'), "one line");
    }
}
