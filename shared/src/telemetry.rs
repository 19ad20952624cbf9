//! JSON logs through tracing. Fields carry shop, order id and request id; never personal data.

use tracing_subscriber::filter::LevelFilter;
pub use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Installs the JSON log formatter, filtered by `RUST_LOG` (`info`, `debug`,
/// `info,order_placed=debug`: a default level and levels per target), INFO when it is unset,
/// empty or not understood.
pub fn init_json_logs() {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_filter(filter(std::env::var("RUST_LOG").ok().as_deref(), Targets::new().with_default(LevelFilter::INFO)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
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
        assert!(!mixed.would_enable("ppx_shared::notify", &Level::DEBUG));
        assert!(mixed.would_enable("ppx_shared::notify", &Level::INFO));
        assert!(!mixed.would_enable("aws_smithy_runtime::client", &Level::INFO));
    }

    #[test]
    fn directives_it_cannot_read_fall_back_to_the_default() {
        assert_eq!(filter(Some("order_placed=loud"), info()).default_level(), Some(LevelFilter::INFO));
        let quiet = Targets::new().with_default(LevelFilter::WARN);
        assert_eq!(filter(None, quiet.clone()).default_level(), Some(LevelFilter::WARN));
        assert_eq!(filter(Some("debug"), quiet).default_level(), Some(LevelFilter::DEBUG), "RUST_LOG wins");
    }
}
