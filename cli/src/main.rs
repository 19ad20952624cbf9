//! `ppx`: operate a ppx deployment, or run the bundle locally. Honours the standard AWS SDK
//! environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials) and `PPX_TABLE`.

use clap::{Parser, Subcommand};
use ppx_cli::commands::{self, CommandError};
use ppx_cli::serve::{self, Functions};
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::clock::{AnyClock, ManualClock, SystemClock};
use ppx_shared::config::AppConfig;
use ppx_shared::messaging::ses::SesEmail;
use ppx_shared::messaging::sns::{SnsEvents, SnsSms};
use ppx_shared::returns::ReturnState;
use ppx_shared::store::dynamo::DynamoStore;
use return_submitted::ReturnSubmitted;
use review_request::{ReviewConfig, ReviewRequest};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ppx", version, about = "Post-purchase experience engine: operator and local-run tool")]
struct Cli {
    /// DynamoDB table name.
    #[arg(long, env = "PPX_TABLE", default_value = "ppx", global = true)]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table on the configured endpoint if it is missing (local use; SAM creates it in AWS).
    Init,
    /// Shop settings.
    Shop {
        #[command(subcommand)]
        command: ShopCommand,
    },
    /// Serve every HTTP function locally under the deployed routes.
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: std::net::SocketAddr,
        /// Freeze the clock at this RFC 3339 time (demos and tests).
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Orders.
    Order {
        #[command(subcommand)]
        command: OrderCommand,
    },
    /// Review requests.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Returns: list, decide the ones in review, move them on.
    Return {
        #[command(subcommand)]
        command: ReturnCommand,
    },
    /// NPS and review figures of a shop for a period.
    Kpi {
        shop: String,
        /// Start (RFC 3339, or a date YYYY-MM-DD meaning its start in UTC).
        #[arg(long)]
        from: String,
        /// End (RFC 3339, or a date YYYY-MM-DD meaning its end in UTC).
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ReturnCommand {
    /// Returns of a shop in one state.
    List {
        shop: String,
        #[arg(long, default_value = "needs_review")]
        state: String,
    },
    /// Approve or reject a return in review; the customer gets the decision.
    Decide {
        shop: String,
        #[arg(value_name = "RETURN")]
        return_id: String,
        #[arg(value_enum)]
        decision: Decision,
        /// Why (kept with the return; shown to the customer for a rejection).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move a return on: received, refunded, credited, exchanged or closed.
    Advance {
        shop: String,
        #[arg(value_name = "RETURN")]
        return_id: String,
        state: String,
    },
    /// Register the return parcel's tracking number (and label), so carrier scans move it on.
    Parcel {
        shop: String,
        #[arg(value_name = "RETURN")]
        return_id: String,
        tracking_number: String,
        #[arg(long)]
        label_url: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Decision {
    Approve,
    Reject,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Run the scheduled review request function once, as the schedule would.
    Run {
        /// Pretend it is this RFC 3339 time (local testing and demos).
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum ShopCommand {
    /// Validate and write a shop settings file (see events/shop.example.json).
    Put { file: PathBuf },
}

#[derive(Subcommand)]
enum OrderCommand {
    /// Print an order with its shipments and message log.
    Show {
        shop: String,
        order: String,
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    ppx_shared::telemetry::init_json_logs();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ppx: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<String, CommandError> {
    let sdk = ppx_shared::aws::sdk_config().await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), cli.table.clone());
    match cli.command {
        Command::Init => commands::init(&store).await,
        Command::Shop { command: ShopCommand::Put { file } } => commands::shop_put(&store, &file).await,
        Command::Order { command: OrderCommand::Show { shop, order, json } } => {
            commands::order_show(&store, &shop, &order, json).await
        }
        Command::Return { command } => {
            let config = app_config(&cli.table)?;
            let sns = ppx_shared::aws_sdk_sns::Client::new(&sdk);
            let app = ReturnSubmitted::new(
                store,
                SesEmail::new(ppx_shared::aws_sdk_sesv2::Client::new(&sdk)),
                SnsSms::new(sns.clone()),
                SnsEvents::new(sns),
                SystemClock,
                &config,
            );
            match command {
                ReturnCommand::List { shop, state } => commands::return_list(&app.store, &shop, &state).await,
                ReturnCommand::Decide { shop, return_id, decision, reason } => {
                    let state = match decision {
                        Decision::Approve => ReturnState::Approved,
                        Decision::Reject => ReturnState::Rejected,
                    };
                    commands::return_move(&app, &shop, &return_id, state, reason).await
                }
                ReturnCommand::Advance { shop, return_id, state } => {
                    let state = ReturnState::parse(&state)
                        .ok_or_else(|| CommandError::Usage(format!("unknown return state {state:?}")))?;
                    commands::return_move(&app, &shop, &return_id, state, None).await
                }
                ReturnCommand::Parcel { shop, return_id, tracking_number, label_url } => {
                    commands::return_parcel(&app, &shop, &return_id, &tracking_number, label_url).await
                }
            }
        }
        Command::Kpi { shop, from, to } => {
            commands::kpi(&store, &shop, parse_bound(&from, false)?, parse_bound(&to, true)?).await
        }
        Command::Review { command: ReviewCommand::Run { now } } => {
            let config = app_config(&cli.table)?;
            let app = ReviewRequest::new(
                store,
                SesEmail::new(ppx_shared::aws_sdk_sesv2::Client::new(&sdk)),
                clock_at(now),
                &config,
                ReviewConfig::from_env(),
            );
            let report = app.run(None).await?;
            Ok(serde_json::to_string_pretty(&report).expect("reports serialize"))
        }
        Command::Serve { addr, now } => {
            let config = app_config(&cli.table)?;
            let clock = clock_at(now);
            serve::run(addr, Functions::new(&sdk, &config, clock))
                .await
                .map_err(|e| CommandError::Usage(format!("serve: {e}")))?;
            Ok(String::new())
        }
    }
}

fn app_config(table: &str) -> Result<AppConfig, CommandError> {
    AppConfig::from_lookup(|name| match name {
        "PPX_TABLE" => Some(table.to_owned()),
        _ => std::env::var(name).ok(),
    })
    .map_err(|e| CommandError::Usage(e.to_string()))
}

fn clock_at(now: Option<chrono::DateTime<chrono::Utc>>) -> AnyClock {
    match now {
        Some(now) => AnyClock::Manual(ManualClock::at(now)),
        None => AnyClock::System(SystemClock),
    }
}

/// RFC 3339, or a bare date: its first (or, for an end, last) second in UTC.
fn parse_bound(raw: &str, end: bool) -> Result<chrono::DateTime<chrono::Utc>, CommandError> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(at.to_utc());
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| CommandError::Usage(format!("{raw:?} is neither RFC 3339 nor YYYY-MM-DD")))?;
    let time = if end { chrono::NaiveTime::from_hms_opt(23, 59, 59) } else { chrono::NaiveTime::from_hms_opt(0, 0, 0) };
    Ok(date.and_time(time.expect("valid time")).and_utc())
}
