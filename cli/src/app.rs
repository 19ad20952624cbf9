//! The `ppx` command line: its arguments and running one command, as a library so that the
//! end-to-end tests drive the very code `ppx` runs. Honours the standard AWS SDK environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials), `PPX_TABLE`, and for the commands that send
//! messages or serve pages `PPX_PUBLIC_URL` (the link keys come from SSM, `ppx keys`; a
//! `PPX_LINK_SECRET` of versions before 0.3 is still honoured).

use crate::aws_problem::{self, AwsProblem, Target};
use crate::commands::{self, CommandError};
use crate::deployment::{self, AwsOptions, DEFAULT_TABLE, StackOutputs};
use crate::doctor;
use crate::keys;
use crate::serve::{self, Functions};
use clap::{Parser, Subcommand};
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ses::SesEmail;
use ppx_shared::adapters::sns::{SnsEvents, SnsSms};
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::domain::returns::ReturnState;
use ppx_shared::http::telemetry::Targets;
use ppx_shared::ports::clock::{AnyClock, ManualClock, SystemClock};
use ppx_shared::ports::store::StoreError;
use review_request::{ReviewConfig, ReviewRequest};
use std::path::PathBuf;
use tracing::level_filters::LevelFilter;

#[derive(Parser)]
#[command(name = "ppx", version, about = "Post-purchase experience engine: operator and local-run tool")]
pub struct Cli {
    /// DynamoDB table name (default: the stack's, else `ppx`).
    #[arg(long, env = "PPX_TABLE", global = true)]
    table: Option<String>,
    /// The deployed stack (`sam deploy`'s name): its table and customer links' URL from its outputs.
    #[arg(long, env = "PPX_STACK", global = true)]
    stack: Option<String>,
    /// AWS profile (SSO and credential_process profiles work); default: AWS_PROFILE, else `default`.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// AWS region; default: AWS_REGION, else the profile's.
    #[arg(long, global = true)]
    region: Option<String>,
    /// Another endpoint for every AWS service (local AWS); default: AWS_ENDPOINT_URL.
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// How commands that print data print it.
    #[arg(long, value_enum, default_value = "text", global = true)]
    output: OutputFormat,
    /// Log what happens (JSON on stderr): -v info, -vv debug. RUST_LOG, when set, decides instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The account, region and endpoint the options choose.
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    /// What is logged when `RUST_LOG` is not set. A command's answer is its output, so it logs
    /// warnings only, and the SDK's credential-chain warnings not even those (a missing
    /// credential is told in one sentence, `AwsProblem`). `ppx serve` logs at INFO as the
    /// deployed functions do: one line per request handled (route outcome, shop, order id, never
    /// personal data) and where it listens, which is what someone running it locally watches.
    pub fn log_filter(&self) -> Targets {
        match (self.verbose, &self.command) {
            (0, Command::Serve { .. }) => Targets::new().with_default(LevelFilter::INFO),
            (0, _) => Targets::new().with_default(LevelFilter::WARN).with_target("aws_config", LevelFilter::ERROR),
            (1, _) => Targets::new().with_default(LevelFilter::INFO),
            _ => Targets::new().with_default(LevelFilter::DEBUG),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table on the configured endpoint if it is missing (local use; SAM creates it in AWS).
    Init,
    /// Is the deployment ready for real orders? The table, each shop's sender identity, the SES
    /// sandbox, the configuration set, the stack's resources, the alarms' subscribers, the public URL.
    Doctor,
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
    /// A customer's data: a copy of it, or forgetting it (privacy requests).
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
    },
    /// The customer links' keys (in SSM Parameter Store: no link secret on this machine).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The addresses a shop no longer mails (hard bounces, complaints, the operator's).
    Suppression {
        #[command(subcommand)]
        command: SuppressionCommand,
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

#[derive(Subcommand)]
enum CustomerCommand {
    /// Everything the shop holds about a customer, as JSON: their orders (found by the address,
    /// and any named), messages, returns, unsubscribe and suppression.
    Export {
        shop: String,
        email: String,
        /// An order of theirs to include even if stored under another address (repeatable).
        #[arg(long = "order")]
        orders: Vec<String>,
    },
    /// Forget a customer: name, address, phone, email and their words leave every order found
    /// by the address or named; figures stay. Recorded (`ppx customer requests`).
    Erase {
        shop: String,
        email: String,
        #[arg(long = "order")]
        orders: Vec<String>,
    },
    /// The privacy requests carried out for a shop (the platform's and the operator's).
    Requests { shop: String },
}

#[derive(Subcommand)]
enum SuppressionCommand {
    /// Every suppressed address of a shop, with why and since when.
    List { shop: String },
    /// Mail an address again (its mailbox works again, or the customer asked).
    Remove { shop: String, address: String },
    /// Stop mailing an address.
    Add { shop: String, address: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The keys, which one signs new links and when each was made (never their secrets).
    List,
    /// Make a key that signs the links sent from now on (the first, on a new stack); the others
    /// keep opening the links they signed.
    Rotate,
    /// Forget a key: the links it signed stop opening (once they have expired, or if it leaked).
    Retire {
        id: String,
        /// Required: the links cannot be brought back.
        #[arg(long)]
        yes: bool,
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
    /// Validate and write a shop settings file (see events/shop.example.json). Its sender must
    /// be under an SES identity of the account.
    Put {
        file: PathBuf,
        /// Save even when no SES identity covers the sender (emails fail until one does).
        #[arg(long)]
        unverified_sender: bool,
    },
    /// Validate a shop settings file without writing it.
    Validate { file: PathBuf },
    /// A shop's settings, its webhook secrets hidden.
    Get { shop: String },
    /// Every shop of the table.
    List,
    /// Delete a shop's settings and webhook secrets: its webhooks are refused from then on (its
    /// orders stay).
    Delete {
        shop: String,
        /// Required: this cannot be undone but by `shop put` with the secrets.
        #[arg(long)]
        yes: bool,
    },
    /// Move the webhook secrets that versions before 0.3 kept in the table to SSM Parameter
    /// Store (once, right after deploying 0.3).
    MigrateSecrets,
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

/// Runs one command against `sdk`, reading `PPX_LINK_SECRET`, `PPX_PUBLIC_URL` and the other
/// deployment settings through `env` (only the commands that send messages or serve pages need
/// them). What a failed AWS request meant is told in one sentence ([`AwsProblem`]).
pub async fn run(
    cli: Cli,
    sdk: &ppx_shared::adapters::aws::SdkConfig,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<String, CommandError> {
    if sdk.region().is_none() {
        return Err(AwsProblem::NoRegion.into());
    }
    let outputs = match &cli.stack {
        Some(stack) => Some(deployment::stack_outputs(sdk, stack).await?),
        None => None,
    };
    let table = cli
        .table
        .clone()
        .or_else(|| outputs.as_ref().and_then(|o| o.get(deployment::outputs::TABLE)))
        .unwrap_or_else(|| DEFAULT_TABLE.to_owned());
    // The environment first; what it leaves out, from the stack (never a secret: outputs have none).
    let env = |name: &str| env(name).or_else(|| outputs.as_ref().and_then(|o| o.for_variable(name)));
    let target = Target::of(sdk, &table);
    let client = aws_sdk_dynamodb::Client::new(sdk);
    if matches!(cli.command, Command::Serve { .. }) {
        // A server over a missing table would answer every webhook 5xx: say so before serving.
        if let Some(problem) = aws_problem::diagnose(&client, &target).await {
            return Err(problem.into());
        }
    }
    let creating = matches!(cli.command, Command::Init);
    let store = DynamoStore::new(client.clone(), table.clone());
    let deployment = Deployment { table: &table, outputs: outputs.as_ref(), env: &env };
    match execute(cli, sdk, store, &deployment).await {
        Err(CommandError::Store(StoreError::Unavailable(detail))) => {
            match aws_problem::diagnose(&client, &target).await {
                // `ppx init` failing to create the table is not told to run `ppx init`.
                Some(AwsProblem::TableMissing { .. }) if creating => {
                    Err(CommandError::Store(StoreError::Unavailable(detail)))
                }
                Some(problem) => Err(problem.into()),
                None => Err(CommandError::Store(StoreError::Unavailable(detail))),
            }
        }
        outcome => outcome,
    }
}

/// What a command runs against: the table, the stack's outputs (with `--stack`) and the
/// deployment settings (`PPX_LINK_SECRET`, `PPX_PUBLIC_URL`...).
struct Deployment<'a> {
    table: &'a str,
    outputs: Option<&'a StackOutputs>,
    env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

async fn execute(
    cli: Cli,
    sdk: &ppx_shared::adapters::aws::SdkConfig,
    store: DynamoStore,
    deployment: &Deployment<'_>,
) -> Result<String, CommandError> {
    let env = deployment.env;
    let json = cli.output == OutputFormat::Json;
    match cli.command {
        Command::Init => commands::init(&store).await,
        Command::Doctor => {
            let configuration_set = env("PPX_SES_CONFIGURATION_SET");
            let public_url = env("PPX_PUBLIC_URL");
            let secrets = secrets(sdk, &store);
            let verdicts =
                doctor::doctor(sdk, (&store, &secrets), deployment.outputs, configuration_set, public_url).await;
            Ok(if json { commands::to_json(&verdicts) } else { doctor::report(&verdicts) })
        }
        Command::Shop { command } => match command {
            ShopCommand::Put { file, unverified_sender } => {
                let ses = ppx_shared::aws_sdk_sesv2::Client::new(sdk);
                let sender = |sender| async move { doctor::sender_identity(&ses, &sender).await };
                commands::shop_put(&store, &secrets(sdk, &store), &file, sender, unverified_sender).await
            }
            ShopCommand::Validate { file } => commands::shop_validate(&file),
            ShopCommand::Get { shop } => commands::shop_get(&store, &secrets(sdk, &store), &shop).await,
            ShopCommand::List => commands::shop_list(&store, json).await,
            ShopCommand::Delete { shop, yes: true } => {
                commands::shop_delete(&store, &secrets(sdk, &store), &shop).await
            }
            ShopCommand::MigrateSecrets => commands::shop_migrate_secrets(&store, &secrets(sdk, &store)).await,
            ShopCommand::Delete { shop, yes: false } => {
                Err(CommandError::Usage(format!("deleting shop {shop}'s settings needs --yes")))
            }
        },
        Command::Order { command: OrderCommand::Show { shop, order, json: order_json } } => {
            commands::order_show(&store, &shop, &order, order_json || json).await
        }
        Command::Customer { command } => match command {
            CustomerCommand::Export { shop, email, orders } => {
                commands::customer_export(&store, &shop, &email, &orders).await
            }
            CustomerCommand::Erase { shop, email, orders } => {
                commands::customer_erase(&store, &shop, &email, &orders, chrono::Utc::now()).await
            }
            CustomerCommand::Requests { shop } => commands::customer_requests(&store, &shop, json).await,
        },
        Command::Keys { command } => {
            let secrets = secrets(sdk, &store);
            match command {
                KeysCommand::List => keys::list(&secrets, json).await,
                KeysCommand::Rotate => keys::rotate(&secrets, chrono::Utc::now()).await,
                KeysCommand::Retire { id, yes } => keys::retire(&secrets, &id, yes).await,
            }
        }
        Command::Suppression { command } => match command {
            SuppressionCommand::List { shop } => commands::suppression_list(&store, &shop, json).await,
            SuppressionCommand::Remove { shop, address } => commands::suppression_remove(&store, &shop, &address).await,
            SuppressionCommand::Add { shop, address } => {
                commands::suppression_add(&store, &shop, &address, chrono::Utc::now()).await
            }
        },
        Command::Kpi { shop, from, to } => {
            commands::kpi(&store, &shop, (parse_bound(&from, false)?, parse_bound(&to, true)?), json).await
        }
        Command::Return { command } => match command {
            // Reading needs no link secret or public URL; only what tells the customer does.
            ReturnCommand::List { shop, state } => commands::return_list(&store, &shop, &state, json).await,
            ReturnCommand::Decide { shop, return_id, decision, reason } => {
                let state = match decision {
                    Decision::Approve => ReturnState::Approved,
                    Decision::Reject => ReturnState::Rejected,
                };
                let app = returns_app(store, sdk, &app_config(deployment.table, env)?);
                commands::return_move(&app, &shop, &return_id, state, reason).await
            }
            ReturnCommand::Advance { shop, return_id, state } => {
                let state = ReturnState::parse(&state)
                    .ok_or_else(|| CommandError::Usage(format!("unknown return state {state:?}")))?;
                let app = returns_app(store, sdk, &app_config(deployment.table, env)?);
                commands::return_move(&app, &shop, &return_id, state, None).await
            }
            ReturnCommand::Parcel { shop, return_id, tracking_number, label_url } => {
                let app = returns_app(store, sdk, &app_config(deployment.table, env)?);
                commands::return_parcel(&app, &shop, &return_id, &tracking_number, label_url).await
            }
        },
        Command::Review { command: ReviewCommand::Run { now } } => {
            let config = app_config(deployment.table, env)?;
            let adapters = Adapters::<PortsOf<_, _, _, _, _, _>> {
                secrets: secrets(sdk, &store),
                store,
                email: SesEmail::new(ppx_shared::aws_sdk_sesv2::Client::new(sdk))
                    .with_configuration_set(config.ses_configuration_set.clone()),
                sms: SnsSms::new(ppx_shared::aws_sdk_sns::Client::new(sdk)),
                events: SnsEvents::new(ppx_shared::aws_sdk_sns::Client::new(sdk), config.home.clone()),
                clock: clock_at(now),
            };
            let app = ReviewRequest::new(App::new(adapters, &config), ReviewConfig::from_env());
            let report = app.run(None).await?;
            Ok(serde_json::to_string_pretty(&report).expect("reports serialize"))
        }
        Command::Serve { addr, now } => {
            let config = app_config(deployment.table, env)?;
            let clock = clock_at(now);
            serve::run(addr, Functions::new(sdk, &config, clock))
                .await
                .map_err(|e| CommandError::Usage(format!("serve: {e}")))?;
            Ok(String::new())
        }
    }
}

/// The shops' secrets and the link keys of the table `store` works on.
fn secrets(sdk: &ppx_shared::adapters::aws::SdkConfig, store: &DynamoStore) -> SsmSecrets {
    SsmSecrets::new(ppx_shared::aws_sdk_ssm::Client::new(sdk), store.table())
}

/// The ports of the operator commands that move a return on and tell the customer.
type ReturnPorts = PortsOf<DynamoStore, SsmSecrets, SesEmail, SnsSms, SnsEvents, SystemClock>;

/// The returns' application context, for the operator commands that move a return on.
fn returns_app(store: DynamoStore, sdk: &ppx_shared::adapters::aws::SdkConfig, config: &AppConfig) -> App<ReturnPorts> {
    let sns = ppx_shared::aws_sdk_sns::Client::new(sdk);
    let adapters = Adapters {
        secrets: secrets(sdk, &store),
        store,
        email: SesEmail::new(ppx_shared::aws_sdk_sesv2::Client::new(sdk))
            .with_configuration_set(config.ses_configuration_set.clone()),
        sms: SnsSms::new(sns.clone()),
        events: SnsEvents::new(sns, config.home.clone()),
        clock: SystemClock,
    };
    App::new(adapters, config)
}

fn app_config(table: &str, env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<AppConfig, CommandError> {
    Ok(AppConfig::from_lookup(|name| match name {
        "PPX_TABLE" => Some(table.to_owned()),
        _ => env(name),
    })?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn logs(args: &[&str]) -> Targets {
        Cli::try_parse_from(std::iter::once("ppx").chain(args.iter().copied())).unwrap().log_filter()
    }

    #[test]
    fn commands_log_warnings_only_unless_asked_and_serve_logs_what_it_handles() {
        let quiet = logs(&["order", "show", "demo-shop", "1001"]);
        assert!(!quiet.would_enable("ppx_shared::app::outbox", &Level::INFO));
        assert!(quiet.would_enable("ppx_shared::app::outbox", &Level::WARN));
        assert!(!quiet.would_enable("aws_config::meta::credentials::chain", &Level::WARN), "told in one sentence");

        let verbose = logs(&["-v", "order", "show", "demo-shop", "1001"]);
        assert!(verbose.would_enable("ppx_shared::app::outbox", &Level::INFO));
        assert!(verbose.would_enable("aws_config::meta::credentials::chain", &Level::WARN));
        assert!(!verbose.would_enable("ppx_shared::app::outbox", &Level::DEBUG));
        assert!(
            logs(&["kpi", "s", "--from", "2026-01-01", "--to", "2026-01-02", "-vv"])
                .would_enable("ppx_shared::app::outbox", &Level::DEBUG)
        );

        let serve = logs(&["serve"]);
        assert!(serve.would_enable("order_placed::handler", &Level::INFO));
        assert!(!serve.would_enable("order_placed::handler", &Level::DEBUG));
    }
}
