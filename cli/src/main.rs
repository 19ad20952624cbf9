//! `ppx`: operate a ppx deployment, or run the bundle locally (see `ppx_cli::app`).

use clap::Parser;
use ppx_cli::app::{self, Cli};
use ppx_cli::terminal::escape_lines;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    ppx_shared::http::telemetry::init_cli_logs(cli.log_filter());
    let outcome = match ppx_cli::deployment::sdk_config(&cli.aws_options()).await {
        Ok(sdk) => app::run(cli, &sdk, &|name| std::env::var(name).ok()).await,
        Err(err) => Err(err.into()),
    };
    // Stored text was escaped field by field; this keeps anything else from acting on the terminal.
    match outcome {
        Ok(output) => {
            if !output.is_empty() {
                println!("{}", escape_lines(&output));
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ppx: {}", escape_lines(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}
