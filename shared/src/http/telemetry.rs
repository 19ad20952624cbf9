//! JSON logs through tracing. Fields carry shop, order id and request id; never personal data.

use tracing_subscriber::filter::LevelFilter;
pub use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Crates whose DEBUG and TRACE events can carry what must never be logged: the SDK's requests
/// and responses (a stored item with a customer's address, a shop's webhook secrets in its
/// settings), raw Lambda events, HTTP frames. In the functions they log at INFO at most.
const BODY_LOGGING_CRATES: [&str; 14] = [
    "aws_config",
    "aws_runtime",
    "aws_sdk_dynamodb",
    "aws_sdk_sesv2",
    "aws_sdk_sns",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "h2",
    "hyper",
    "hyper_util",
    "lambda_http",
    "lambda_runtime",
    "rustls",
];

/// Installs the JSON log formatter of the functions, filtered by `RUST_LOG` (`info`, `debug`,
/// `info,order_placed=debug`: a default level and levels per target), INFO when it is unset,
/// empty or not understood. Whatever it asks, no level lets a body, a secret or a raw event
/// through: see [`for_functions`].
pub fn init_json_logs() {
    let requested = filter(std::env::var("RUST_LOG").ok().as_deref(), Targets::new().with_default(LevelFilter::INFO));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_filter(for_functions(requested));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// `requested` with TRACE lowered to DEBUG everywhere (release builds compile TRACE out anyway),
/// and DEBUG to INFO for [`BODY_LOGGING_CRATES`], however specific the directive.
fn for_functions(requested: Targets) -> Targets {
    let default = requested.default_level().unwrap_or(LevelFilter::INFO).min(LevelFilter::DEBUG);
    let mut allowed = Targets::new().with_default(default);
    let body_logging =
        |target: &str| BODY_LOGGING_CRATES.iter().any(|c| target == *c || target.starts_with(&format!("{c}::")));
    for crate_name in BODY_LOGGING_CRATES {
        allowed = allowed.with_target(crate_name, default.min(LevelFilter::INFO));
    }
    for (target, level) in requested {
        let cap = if body_logging(&target) { LevelFilter::INFO } else { LevelFilter::DEBUG };
        allowed = allowed.with_target(target, level.min(cap));
    }
    allowed
}

/// The same JSON logs for the `ppx` command line, on stderr (stdout carries the command's
/// answer), filtered by `RUST_LOG` when it is set and understood, else by `default`.
pub fn init_cli_logs(default: Targets) {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_filter(filter(std::env::var("RUST_LOG").ok().as_deref(), default));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// `RUST_LOG`'s directives as [`Targets`] (no regex engine, unlike `EnvFilter`); `default`
/// when it is unset, empty or not understood.
fn filter(rust_log: Option<&str>, default: Targets) -> Targets {
    rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn info() -> Targets {
        Targets::new().with_default(LevelFilter::INFO)
    }

    #[test]
    fn rust_log_sets_the_default_level_and_levels_per_target() {
        let filter = |rust_log| filter(rust_log, info());
        let unset = filter(None);
        assert!(unset.would_enable("order_placed", &Level::INFO));
        assert!(!unset.would_enable("order_placed", &Level::DEBUG));
        assert_eq!(filter(Some("  ")).default_level(), Some(LevelFilter::INFO));
        assert_eq!(filter(Some("warn")).default_level(), Some(LevelFilter::WARN));

        let mixed = filter(Some("info,order_placed=debug,aws_smithy_runtime=warn"));
        assert!(mixed.would_enable("order_placed::handler", &Level::DEBUG));
        assert!(!mixed.would_enable("ppx_shared::app::outbox", &Level::DEBUG));
        assert!(mixed.would_enable("ppx_shared::app::outbox", &Level::INFO));
        assert!(!mixed.would_enable("aws_smithy_runtime::client", &Level::INFO));
    }

    #[test]
    fn no_level_asked_of_a_function_lets_bodies_secrets_or_raw_events_through() {
        for rust_log in [
            "trace",
            "debug",
            "aws_smithy_runtime=trace",
            "info,aws_smithy_runtime::client::orchestrator=debug",
            "lambda_runtime=trace,hyper=trace",
        ] {
            let allowed = for_functions(filter(Some(rust_log), info()));
            for target in [
                "aws_smithy_runtime::client::orchestrator",
                "lambda_runtime::layers::api_response",
                "hyper::proto",
                "aws_sdk_dynamodb::operation",
            ] {
                assert!(!allowed.would_enable(target, &Level::DEBUG), "{rust_log}: {target} at DEBUG");
            }
            assert!(!allowed.would_enable("order_placed::handler", &Level::TRACE), "{rust_log}");
        }
        let debug = for_functions(filter(Some("debug"), info()));
        assert!(debug.would_enable("order_placed::handler", &Level::DEBUG), "our own debug still works");
        assert!(debug.would_enable("aws_smithy_runtime::client", &Level::INFO));
        let quiet = for_functions(filter(Some("warn"), info()));
        assert!(!quiet.would_enable("aws_smithy_runtime::client", &Level::INFO), "WARN stays WARN for the SDK too");
        assert!(!quiet.would_enable("order_placed", &Level::INFO));
    }

    #[test]
    fn directives_it_cannot_read_fall_back_to_the_default() {
        assert_eq!(filter(Some("order_placed=loud"), info()).default_level(), Some(LevelFilter::INFO));
        let quiet = Targets::new().with_default(LevelFilter::WARN);
        assert_eq!(filter(None, quiet.clone()).default_level(), Some(LevelFilter::WARN));
        assert_eq!(filter(Some("debug"), quiet).default_level(), Some(LevelFilter::DEBUG), "RUST_LOG wins");
    }
}
