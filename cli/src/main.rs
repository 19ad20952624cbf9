//! `ppx`: operate a ppx deployment, or run the bundle locally. Honours the standard AWS SDK
//! environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials) and `PPX_TABLE`.

use clap::{Parser, Subcommand};
use ppx_cli::commands::{self, CommandError};
use ppx_cli::serve::{self, Functions};
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::clock::{AnyClock, ManualClock, SystemClock};
use ppx_shared::config::AppConfig;
use ppx_shared::store::dynamo::DynamoStore;
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
    let sdk = ppx_shared::aws::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), cli.table.clone());
    match cli.command {
        Command::Init => commands::init(&store).await,
        Command::Shop { command: ShopCommand::Put { file } } => commands::shop_put(&store, &file).await,
        Command::Order { command: OrderCommand::Show { shop, order, json } } => {
            commands::order_show(&store, &shop, &order, json).await
        }
        Command::Serve { addr, now } => {
            let config = AppConfig::from_lookup(|name| match name {
                "PPX_TABLE" => Some(cli.table.clone()),
                _ => std::env::var(name).ok(),
            })
            .map_err(|e| CommandError::Usage(e.to_string()))?;
            let clock = match now {
                Some(now) => AnyClock::Manual(ManualClock::at(now)),
                None => AnyClock::System(SystemClock),
            };
            serve::run(addr, Functions::new(&sdk, &config, clock))
                .await
                .map_err(|e| CommandError::Usage(format!("serve: {e}")))?;
            Ok(String::new())
        }
    }
}
