//! `ppx doctor`: is this deployment ready to take real orders? One line per check, each `ok`,
//! `FIX` with what to do, or `??` when it could not be told (with why).

use crate::aws_problem::{self, Target};
use crate::deployment::{StackOutputs, outputs};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use ppx_shared::adapters::aws::SdkConfig;
use ppx_shared::adapters::dynamo::DynamoStore;
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::domain::ids::ShopId;
use ppx_shared::domain::mailbox::Mailbox;
use ppx_shared::ports::secrets::{SecretStore, SecretsError};
use ppx_shared::ports::store::{SettingsStore, StoreError};
use std::fmt::Write as _;

/// Shops whose sender is checked; the rest are counted.
const MAX_SHOPS_CHECKED: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "text", rename_all = "snake_case")]
pub enum Verdict {
    Ok(String),
    Fix(String),
    Unknown(String),
}

impl Verdict {
    fn line(&self) -> String {
        match self {
            Self::Ok(text) => format!("ok   {text}"),
            Self::Fix(text) => format!("FIX  {text}"),
            Self::Unknown(text) => format!("??   {text}"),
        }
    }
}

/// Every check, in the order an operator fixes things.
pub async fn doctor(
    sdk: &SdkConfig,
    (store, secrets): (&DynamoStore, &SsmSecrets),
    stack: Option<&StackOutputs>,
    configuration_set: Option<String>,
    public_url: Option<String>,
) -> Vec<Verdict> {
    let mut verdicts = vec![table(sdk, store).await];
    verdicts.push(expiry(store).await);
    verdicts.push(link_keys(secrets).await);
    verdicts.extend(shops(sdk, store, secrets).await);
    verdicts.push(sending_account(sdk).await);
    verdicts.push(match configuration_set {
        Some(name) => configuration_set_exists(sdk, &name).await,
        None => Verdict::Fix("no SES configuration set: bounces and complaints come back to nobody (PPX_SES_CONFIGURATION_SET or --stack)".into()),
    });
    if let Some(stack) = stack {
        verdicts.push(stack_resources(sdk, &stack.stack).await);
        verdicts.push(match stack.get(outputs::ALARM_TOPIC) {
            Some(topic) => alarm_subscribers(sdk, &topic).await,
            None => Verdict::Fix(format!("stack {} has no AlarmTopicArn output: deploy this version", stack.stack)),
        });
    } else {
        verdicts.push(Verdict::Unknown("the stack's resources and alarms: name the stack (--stack)".into()));
    }
    verdicts.push(match public_url {
        Some(url) => answers(&url).await,
        None => Verdict::Fix("no public URL for the customer links (PPX_PUBLIC_URL or --stack)".into()),
    });
    verdicts
}

pub fn report(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for verdict in verdicts {
        let _ = writeln!(out, "{}", verdict.line());
    }
    let fixes = verdicts.iter().filter(|v| matches!(v, Verdict::Fix(_))).count();
    let _ = writeln!(out, "{fixes} thing(s) to fix");
    out
}

async fn table(sdk: &SdkConfig, store: &DynamoStore) -> Verdict {
    match store.client().describe_table().table_name(store.table()).send().await {
        Ok(out) => {
            let status = out.table().and_then(|t| t.table_status()).map_or("?", |s| s.as_str());
            Verdict::Ok(format!("table {} is {status}", store.table()))
        }
        // In the words every other command uses for it (a missing table, refused credentials...).
        Err(err) => match aws_problem::classify(&err, &Target::of(sdk, store.table())) {
            Some(problem) => Verdict::Fix(problem.to_string()),
            None => Verdict::Fix(format!("table {}: {}", store.table(), said(&err))),
        },
    }
}

/// DynamoDB's TTL on the table's expiry attribute: what removes the carrier updates kept for a
/// shipment that never came (`ppx init` and the template turn it on).
async fn expiry(store: &DynamoStore) -> Verdict {
    use aws_sdk_dynamodb::types::TimeToLiveStatus;
    let attribute = ppx_shared::adapters::dynamo::table::TTL_ATTRIBUTE;
    let table = store.table();
    match store.client().describe_time_to_live().table_name(table).send().await {
        Ok(out) => {
            let ttl = out.time_to_live_description();
            let status = ttl.and_then(|t| t.time_to_live_status());
            let on = ttl.and_then(|t| t.attribute_name()) == Some(attribute);
            match status {
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) if on => {
                    Verdict::Ok(format!("table {table} removes items after their {attribute} (TTL)"))
                }
                _ => Verdict::Fix(format!(
                    "table {table} has no TTL on {attribute}: expired items are never removed; \
                     `aws dynamodb update-time-to-live --table-name {table} --time-to-live-specification \
                     Enabled=true,AttributeName={attribute}`"
                )),
            }
        }
        Err(err) => Verdict::Unknown(format!("table {table}'s TTL: {}", said(&err))),
    }
}

/// The link keys every customer link is sealed with (`ppx keys`).
async fn link_keys(secrets: &impl SecretStore) -> Verdict {
    match secrets.link_keys().await {
        Ok(Some(keys)) => {
            Verdict::Ok(format!("link keys: {} signs, {} key(s) open links", keys.signing(), keys.list().len()))
        }
        Ok(None) => Verdict::Fix(
            "no link keys: run `ppx keys rotate` before the first order (a stack upgraded from 0.2 signs with its \
             LinkSecret until then)"
                .into(),
        ),
        Err(err) => secrets_verdict("the link keys", err),
    }
}

fn secrets_verdict(what: &str, err: SecretsError) -> Verdict {
    match err {
        SecretsError::Unavailable(why) => Verdict::Unknown(format!("{what}: {why}")),
        err => Verdict::Fix(format!("{what}: {err}")),
    }
}

/// A shop's webhook secrets must be in SSM (every webhook is refused without them), and no
/// longer in the table (where versions before 0.3 kept them).
async fn webhook_secrets(store: &DynamoStore, secrets: &SsmSecrets, shop: &ShopId) -> Verdict {
    match store.legacy_webhook_secrets(shop).await {
        Ok(Some(_)) => {
            return Verdict::Fix(format!(
                "shop {shop} still has webhook secrets in the table: run `ppx shop migrate-secrets`"
            ));
        }
        Ok(None) => {}
        Err(err) => return Verdict::Unknown(format!("shop {shop}'s settings item: {err}")),
    }
    match secrets.shop_secrets(shop).await {
        Ok(Some(found)) if !found.is_empty() => {
            let sources: Vec<&str> = found.sources().into_iter().map(|s| s.as_str()).collect();
            Verdict::Ok(format!("shop {shop} has webhook secrets for {}", sources.join(", ")))
        }
        Ok(_) => Verdict::Fix(format!(
            "shop {shop} has no webhook secrets: every webhook is refused; `ppx shop put` a file with webhook_secrets"
        )),
        Err(err) => secrets_verdict(&format!("shop {shop}'s webhook secrets"), err),
    }
}

/// Each shop's webhook secrets ([`webhook_secrets`]), and its sender under a verified SES
/// identity (its domain, or the address).
async fn shops(sdk: &SdkConfig, store: &DynamoStore, secrets: &SsmSecrets) -> Vec<Verdict> {
    let shops = match store.list_shops().await {
        Ok(shops) => shops,
        Err(StoreError::Unavailable(why)) => return vec![Verdict::Unknown(format!("the shops: {why}"))],
        Err(err) => return vec![Verdict::Fix(format!("the shops: {err}"))],
    };
    if shops.is_empty() {
        return vec![Verdict::Fix("no shop yet: write one with `ppx shop put FILE`".into())];
    }
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let mut verdicts = Vec::new();
    for shop in shops.iter().take(MAX_SHOPS_CHECKED) {
        let settings = match store.get_settings(shop).await {
            Ok(Some(settings)) => settings,
            Ok(None) => continue,
            Err(err) => {
                verdicts.push(Verdict::Unknown(format!("shop {shop}: {err}")));
                continue;
            }
        };
        verdicts.push(webhook_secrets(store, secrets, shop).await);
        let sender = settings.sender.address().to_owned();
        verdicts.push(match sender_identity(&ses, &settings.sender).await {
            SenderIdentity::Verified => Verdict::Ok(format!("shop {shop} sends as {sender}, a verified identity")),
            status => Verdict::Fix(format!("shop {shop} sends as {sender}: {}", status.advice(&settings.sender))),
        });
    }
    if shops.len() > MAX_SHOPS_CHECKED {
        verdicts.push(Verdict::Unknown(format!("{} more shops not checked", shops.len() - MAX_SHOPS_CHECKED)));
    }
    verdicts
}

/// Where a sender stands with SES: under a verified identity (its domain, or the address
/// itself), under one not verified yet, under none, or not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderIdentity {
    Verified,
    Pending(String),
    Missing,
    Unknown(String),
}

impl SenderIdentity {
    /// What to do about it, in one sentence.
    pub fn advice(&self, sender: &Mailbox) -> String {
        let domain = sender.domain();
        let create =
            format!("`aws sesv2 create-email-identity --email-identity {domain}` and publish its DKIM records");
        match self {
            Self::Verified => format!("{} is under a verified SES identity", sender.address()),
            Self::Pending(identity) => format!("{identity} is not verified yet; publish its DKIM records ({create})"),
            Self::Missing => format!("neither {domain} nor the address is an SES identity; {create}"),
            Self::Unknown(why) => format!("SES could not tell ({why})"),
        }
    }
}

pub async fn sender_identity(ses: &aws_sdk_sesv2::Client, sender: &Mailbox) -> SenderIdentity {
    let mut status = SenderIdentity::Missing;
    for identity in [sender.domain(), sender.address()] {
        match ses.get_email_identity().email_identity(identity).send().await {
            Ok(out) if out.verified_for_sending_status() => return SenderIdentity::Verified,
            Ok(_) => status = SenderIdentity::Pending(identity.to_owned()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found_exception()) => {}
            Err(err) => return SenderIdentity::Unknown(said(&err)),
        }
    }
    status
}

async fn sending_account(sdk: &SdkConfig) -> Verdict {
    match aws_sdk_sesv2::Client::new(sdk).get_account().send().await {
        Ok(account) if !account.sending_enabled() => {
            Verdict::Fix("SES sending is paused for the account: see the SES console's reputation page".into())
        }
        Ok(account) if !account.production_access_enabled() => Verdict::Fix(
            "the account is in the SES sandbox (only verified recipients, 200 a day): request production access".into(),
        ),
        Ok(_) => Verdict::Ok("SES production access, sending enabled".into()),
        Err(err) => Verdict::Unknown(format!("the SES account's sandbox and sending status: {}", said(&err))),
    }
}

/// Listed rather than fetched: the account has a handful of sets, and one listing answers.
async fn configuration_set_exists(sdk: &SdkConfig, name: &str) -> Verdict {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let mut next = None;
    for _ in 0..10 {
        match ses.list_configuration_sets().set_next_token(next.take()).send().await {
            Ok(page) => {
                if page.configuration_sets().iter().any(|set| set == name) {
                    return Verdict::Ok(format!(
                        "SES configuration set {name} exists (bounces and complaints come back)"
                    ));
                }
                match page.next_token() {
                    Some(token) => next = Some(token.to_owned()),
                    None => break,
                }
            }
            Err(err) => return Verdict::Unknown(format!("SES configuration set {name}: {}", said(&err))),
        }
    }
    Verdict::Fix(format!("SES configuration set {name} does not exist: every email through it would fail"))
}

/// What an AWS error says, in its own words.
fn said(err: &impl ProvideErrorMetadata) -> String {
    err.message().or(err.code()).unwrap_or("no answer").to_owned()
}

async fn stack_resources(sdk: &SdkConfig, stack: &str) -> Verdict {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    match client.describe_stack_resources().stack_name(stack).send().await {
        Ok(out) => {
            let resources = out.stack_resources();
            let unfinished: Vec<String> = resources
                .iter()
                .filter(|r| !r.resource_status().is_some_and(|s| s.as_str().ends_with("_COMPLETE")))
                .map(|r| r.logical_resource_id().unwrap_or("?").to_owned())
                .collect();
            if unfinished.is_empty() {
                Verdict::Ok(format!(
                    "stack {stack}: its {} resources are in place (schedule, alarms, topics)",
                    resources.len()
                ))
            } else {
                Verdict::Fix(format!("stack {stack}: not in place: {}", unfinished.join(", ")))
            }
        }
        Err(err) => Verdict::Unknown(format!("stack {stack}'s resources: {}", said(&err))),
    }
}

async fn alarm_subscribers(sdk: &SdkConfig, topic: &str) -> Verdict {
    let sns = aws_sdk_sns::Client::new(sdk);
    match sns.list_subscriptions_by_topic().topic_arn(topic).send().await {
        Ok(out) => {
            let confirmed = out
                .subscriptions()
                .iter()
                .filter(|s| s.subscription_arn().is_some_and(|arn| arn.starts_with("arn:")))
                .count();
            let pending = out.subscriptions().len() - confirmed;
            match (confirmed, pending) {
                (0, 0) => Verdict::Fix(
                    "nobody is told of alarms: subscribe an address to the alarm topic (AlarmEmail)".into(),
                ),
                (0, _) => {
                    Verdict::Fix("the alarm subscription is not confirmed: click the link in AWS's first mail".into())
                }
                (n, _) => Verdict::Ok(format!("alarms reach {n} confirmed subscriber(s)")),
            }
        }
        Err(err) => Verdict::Unknown(format!("the alarm topic: {}", said(&err))),
    }
}

/// The customer pages answer (a link that is not one gets ppx's own 4xx page, not a 5xx or nothing).
async fn answers(base: &str) -> Verdict {
    let url = format!("{}/track/ppx-doctor", base.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build();
    let Ok(client) = client else { return Verdict::Unknown("cannot build an HTTP client".into()) };
    match client.get(&url).send().await {
        Ok(response) if response.status().is_server_error() => {
            Verdict::Fix(format!("{url} answers {}: the pages function fails", response.status()))
        }
        Ok(response) => Verdict::Ok(format!("{base} answers (a made-up link gets {})", response.status().as_u16())),
        Err(err) => {
            Verdict::Fix(format!("{url} does not answer ({err}); check the domain's DNS record and certificate"))
        }
    }
}
