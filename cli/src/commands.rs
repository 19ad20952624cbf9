//! Operator commands: table creation, shop settings, and looking at an order. Every stored
//! value in a text output goes through [`escape`]: webhooks wrote it, an operator's terminal shows it.

use crate::aws_problem::AwsProblem;
use crate::doctor::SenderIdentity;
use crate::terminal::escape;
use ppx_shared::adapters::dynamo::{DynamoStore, create_table_if_missing};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::privacy::Privacy;
use ppx_shared::domain::ids::{OrderId, ReturnId, ShopId, TrackingNumber};
use ppx_shared::domain::mail_feedback::{Suppression, SuppressionReason};
use ppx_shared::domain::messages::{DeliveryState, MessageScope};
use ppx_shared::domain::nps::NpsSummary;
use ppx_shared::domain::privacy::CustomerRef;
use ppx_shared::domain::returns::{Resolution, ReturnState};
use ppx_shared::domain::settings::{SettingsError, ShopSecrets, ShopSettings, ShopSetup};
use ppx_shared::ports::clock::SystemClock;
use ppx_shared::ports::secrets::{SecretStore, SecretsError};
use ppx_shared::ports::store::{OrderView, ReviewOutcome, Store, StoreError};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    CaBundle(#[from] ppx_shared::adapters::aws::CaBundleError),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Aws(#[from] AwsProblem),
    #[error(transparent)]
    Config(#[from] ppx_shared::app::config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("shop {shop} has no order with the id or number {order}")]
    OrderNotFound { shop: String, order: String },
    #[error("not saved: the shop's template overrides do not render: {0}")]
    Templates(#[from] ppx_shared::render::TemplateError),
    #[error("order number {number} is on {} orders of shop {shop}: {}; show one by its id", .orders.len(), .orders.join(", "))]
    AmbiguousOrderNumber { shop: String, number: String, orders: Vec<String> },
}

pub async fn init(store: &DynamoStore) -> Result<String, CommandError> {
    let created = create_table_if_missing(store.client(), store.table()).await?;
    Ok(if created {
        format!("created table {}", store.table())
    } else {
        format!("table {} already exists", store.table())
    })
}

/// Validates and writes a settings file: its settings to the table, its `webhook_secrets` to the
/// secret store, source by source (the sources the file leaves out keep their stored secret, so
/// a file of settings alone changes no secret). Its sender must be under an SES identity of the
/// account (`sender` answers where it stands): one not verified yet is saved with a warning
/// (DNS takes its time), none at all is refused unless `unverified_sender` says to save anyway.
pub async fn shop_put<F>(
    store: &impl Store,
    secrets: &impl SecretStore,
    file: &Path,
    sender: impl FnOnce(ppx_shared::domain::mailbox::Mailbox) -> F,
    unverified_sender: bool,
) -> Result<String, CommandError>
where
    F: std::future::Future<Output = SenderIdentity>,
{
    let ShopSetup { settings, secrets: new_secrets } = read_settings(file)?;
    let status = sender(settings.sender.clone()).await;
    if status == SenderIdentity::Missing && !unverified_sender {
        return Err(CommandError::Usage(format!(
            "not saved: {}; or pass --unverified-sender to save anyway",
            status.advice(&settings.sender)
        )));
    }
    // Secrets first: when the shop's settings appear, its webhooks can be verified.
    let merged = update_secrets(secrets, &settings.shop, |stored| stored.merged_with(&new_secrets)).await?;
    store.put_settings(&settings).await?;
    let mut out = match status {
        SenderIdentity::Verified => format!("saved settings of shop {}", settings.shop),
        other => format!(
            "saved settings of shop {}; but its sender {}: {} (emails fail until it is verified)",
            settings.shop,
            escape(settings.sender.address()),
            other.advice(&settings.sender)
        ),
    };
    if merged.is_empty() {
        out.push_str("; it has no webhook secrets: every webhook is refused until webhook_secrets are put");
    }
    Ok(out)
}

/// The shop's stored secrets replaced by `update(stored)`, written only when they changed; the
/// secrets now stored.
async fn update_secrets(
    secrets: &impl SecretStore,
    shop: &ShopId,
    update: impl FnOnce(&ShopSecrets) -> ShopSecrets,
) -> Result<ShopSecrets, CommandError> {
    let stored = secrets.shop_secrets(shop).await?.unwrap_or_default();
    let updated = update(&stored);
    updated.validate()?;
    if updated != stored {
        secrets.put_shop_secrets(shop, &updated).await?;
    }
    Ok(updated)
}

/// Pretty JSON of what a command prints (`--output json`).
pub fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("what ppx prints serializes")
}

/// Validates a settings file without writing it (as `shop put` would check it).
pub fn shop_validate(file: &Path) -> Result<String, CommandError> {
    Ok(format!("settings of shop {} are valid", read_settings(file)?.settings.shop))
}

/// A settings file, valid, with overrides that render: every message and page must render with
/// the shop's overrides before any order meets them.
fn read_settings(file: &Path) -> Result<ShopSetup, CommandError> {
    let raw = std::fs::read_to_string(file)
        .map_err(|source| CommandError::Read { path: file.display().to_string(), source })?;
    let setup = ShopSetup::from_json(&raw)?;
    ppx_shared::app::template_check::check_overrides_render(&setup.settings)?;
    Ok(setup)
}

/// A shop's settings as `shop put` takes them, with the sources that have a webhook secret
/// stored, each secret shown as `***`.
pub async fn shop_get(store: &impl Store, secrets: &impl SecretStore, shop: &str) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let settings = store.get_settings(&shop_id).await?.ok_or_else(|| CommandError::Usage(format!("no shop {shop}")))?;
    let mut json = serde_json::to_value(&settings).expect("settings serialize");
    let stored = secrets.shop_secrets(&shop_id).await?.unwrap_or_default();
    let hidden: serde_json::Map<String, serde_json::Value> =
        stored.sources().iter().map(|source| (source.as_str().to_owned(), "***".into())).collect();
    json["webhook_secrets"] = serde_json::Value::Object(hidden);
    Ok(serde_json::to_string_pretty(&json).expect("JSON prints"))
}

/// Every shop of the table.
pub async fn shop_list(store: &impl Store, json: bool) -> Result<String, CommandError> {
    let mut shops: Vec<String> = store.list_shops().await?.iter().map(ToString::to_string).collect();
    shops.sort();
    if json {
        return Ok(to_json(&shops));
    }
    let mut out = format!("{} shop(s)\n", shops.len());
    for shop in &shops {
        let _ = writeln!(out, "  {}", escape(shop));
    }
    Ok(out)
}

/// Deletes a shop's settings and its secrets: its webhooks are refused from then on.
/// Its orders stay (`ppx customer erase` forgets a customer).
pub async fn shop_delete(store: &impl Store, secrets: &impl SecretStore, shop: &str) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    if store.get_settings(&shop_id).await?.is_none() {
        return Err(CommandError::Usage(format!("no shop {shop}")));
    }
    secrets.delete_shop_secrets(&shop_id).await?;
    store.forget_shop(&shop_id).await?;
    Ok(format!("deleted the settings of shop {shop}; its webhooks are refused from now on"))
}

/// Moves the webhook secrets that versions before 0.3 kept in each shop's settings item to the
/// secret store, then removes them from the item. A source the store holds already keeps the
/// stored secret (it was put since). Safe to run again: a shop with nothing left in its item is
/// skipped.
pub async fn shop_migrate_secrets(store: &DynamoStore, secrets: &impl SecretStore) -> Result<String, CommandError> {
    use ppx_shared::ports::store::SettingsStore as _;
    let mut shops = store.list_shops().await?;
    shops.sort();
    let mut out = String::new();
    let mut moved_shops = 0;
    for shop in &shops {
        let Some(legacy) = store.legacy_webhook_secrets(shop).await? else { continue };
        update_secrets(secrets, shop, |stored| legacy.merged_with(stored)).await?;
        store.remove_legacy_webhook_secrets(shop).await?;
        moved_shops += 1;
        let sources: Vec<&str> = legacy.sources().iter().map(|source| source.as_str()).collect();
        let _ = writeln!(out, "  {}: {} moved out of the table", escape(shop.as_str()), sources.join(", "));
    }
    Ok(format!("{moved_shops} of {} shop(s) had webhook secrets in the table\n{out}", shops.len()))
}

/// An order by the platform's id (`5550001001`) or by the number its customer sees (`1001`, `#1001`).
pub async fn order_show(store: &impl Store, shop: &str, order: &str, json: bool) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let view = find_order(store, &shop_id, order).await?;
    Ok(if json { render_json(&view) } else { render_text(&view) })
}

/// The id first (a generic order's number defaults to its id, so that is the same order), then
/// the number; a number on several orders (platforms reuse them across test orders) is listed.
async fn find_order(store: &impl Store, shop: &ShopId, wanted: &str) -> Result<OrderView, CommandError> {
    let recorded = |view: &OrderView| view.order.is_some() || !view.shipments.is_empty() || !view.messages.is_empty();
    if let Ok(id) = OrderId::parse(wanted) {
        let view = store.order_view(shop, &id).await?;
        if recorded(&view) {
            return Ok(view);
        }
    }
    let mut orders = store.orders_by_number(shop, wanted).await?;
    match orders.len() {
        0 => Err(CommandError::OrderNotFound { shop: shop.to_string(), order: wanted.to_owned() }),
        1 => Ok(store.order_view(shop, &orders.remove(0).id).await?),
        _ => {
            orders.sort_by_key(|o| o.placed_at);
            let orders = orders
                .iter()
                .map(|o| {
                    let test = if o.test { ", test" } else { "" };
                    format!("{} (placed {}{test})", escape(o.id.as_str()), o.placed_at.format("%Y-%m-%d %H:%M UTC"))
                })
                .collect();
            Err(CommandError::AmbiguousOrderNumber { shop: shop.to_string(), number: wanted.to_owned(), orders })
        }
    }
}

fn render_json(view: &OrderView) -> String {
    let value = serde_json::json!({
        "order": view.order,
        "shipments": view.shipments,
        "messages": view.messages,
        "tracking": view.tracking.iter().map(|(id, t)| (id.clone(), &t.value)).collect::<std::collections::BTreeMap<_, _>>(),
        "delivery": view.delivery,
        "returns": view.returns,
    });
    // serde_json escapes C0 controls in strings, not C1 controls or bidi overrides.
    crate::terminal::escape_lines(&serde_json::to_string_pretty(&value).expect("views serialize")).into_owned()
}

/// What an operator answering "did the customer get this?" needs, on one screen.
pub fn render_text(view: &OrderView) -> String {
    let mut out = String::new();
    match &view.order {
        Some(order) => {
            let _ = writeln!(
                out,
                "Order {} (id {}) · shop {} · {:?} · {:?} · payment {:?}{}",
                escape(&order.number),
                escape(order.id.as_str()),
                order.shop,
                order.platform,
                order.status,
                order.payment,
                if order.test { " · TEST" } else { "" }
            );
            let _ = writeln!(out, "  placed   {}", order.placed_at.format("%Y-%m-%d %H:%M UTC"));
            if let Some(date) = order.promised_delivery {
                let _ = writeln!(out, "  promised {}", date.format("%a %Y-%m-%d"));
            }
            let _ = writeln!(
                out,
                "  customer {} · sms consent {}",
                escape(order.customer.email.as_deref().unwrap_or("(no email)")),
                if order.customer.sms_consent { "yes" } else { "no" }
            );
            for item in &order.items {
                let variant = item.variant.as_deref().map(|v| format!(" ({})", escape(v))).unwrap_or_default();
                let _ = writeln!(out, "  {} x {}{} @ {}", item.quantity, escape(&item.title), variant, item.unit_price);
            }
            let _ = writeln!(out, "  total    {}", order.totals.total);
        }
        None => {
            let _ = writeln!(out, "Order not received yet (shipments or messages only)");
        }
    }
    let _ = writeln!(out, "Shipments ({}):", view.shipments.len());
    for shipment in &view.shipments {
        let _ = writeln!(
            out,
            "  {} · {} {} · {} item(s)",
            escape(shipment.id.as_str()),
            escape(shipment.carrier.as_deref().unwrap_or("carrier?")),
            shipment.tracking_number.as_ref().map_or("(no tracking number)", |t| t.as_str()),
            shipment.items.iter().map(|i| i.quantity).sum::<u32>()
        );
        if let Some(tracking) = view.tracking.get(&shipment.id).map(|v| &v.value) {
            let status = tracking.status.map_or("no scans yet", |s| s.as_str());
            let estimate = tracking.estimated_delivery.map(|d| format!(" · carrier estimate {d}")).unwrap_or_default();
            let _ = writeln!(out, "    tracking {status}{estimate} · {} checkpoint(s)", tracking.checkpoints.len());
            if let Some(at) = tracking.watch_at {
                let _ = writeln!(out, "    watched: stalled if no scan by {}", at.format("%Y-%m-%d %H:%M UTC"));
            }
            for note in &tracking.quiet {
                let _ = writeln!(
                    out,
                    "    not announced: {} {}: {}",
                    note.at.format("%Y-%m-%d %H:%M UTC"),
                    note.status.as_str(),
                    escape(&note.reason)
                );
            }
            for event in tracking.timeline().take(3) {
                let _ = writeln!(
                    out,
                    "      {} {} {}{}",
                    event.occurred_at.format("%Y-%m-%d %H:%M UTC"),
                    event.status.as_str(),
                    escape(event.message.as_deref().unwrap_or("")),
                    event.location.as_deref().map(|l| format!(" ({})", escape(l))).unwrap_or_default()
                );
            }
        }
    }
    for ret in &view.returns {
        let _ = writeln!(
            out,
            "Return {} · {} · {} · {} item(s) · {}",
            escape(ret.id.as_str()),
            ret.state.as_str(),
            ret.request.resolution.label(),
            ret.decision.items.iter().map(|i| i.quantity).sum::<u32>(),
            ret.decision.amount
        );
    }
    if let Some(delivery) = &view.delivery {
        let _ = writeln!(
            out,
            "Delivered {} · review request due {}",
            delivery.delivered_at.format("%Y-%m-%d %H:%M UTC"),
            delivery.review_due_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    let _ = writeln!(out, "Messages ({}):", view.messages.len());
    for message in &view.messages {
        let state = match message.state {
            DeliveryState::Sending => "SENDING",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "FAILED",
            DeliveryState::Suppressed => "SKIPPED",
        };
        // What SES said of it after it went (delivered, bounced, complained...).
        let feedback = message
            .provider_message_id
            .as_deref()
            .and_then(|id| view.mail_feedback.iter().find(|f| f.provider_message_id == id))
            .map(|f| {
                let detail = f.detail.as_deref().map(|d| format!(" ({})", escape(d))).unwrap_or_default();
                format!(" · {} {}{detail}", f.outcome.as_str(), f.at.format("%Y-%m-%d %H:%M UTC"))
            })
            .unwrap_or_default();
        let scope = match &message.scope {
            MessageScope::Order => String::new(),
            scope => format!(" [{}]", escape(&scope.to_string())),
        };
        let _ = writeln!(
            out,
            "  {} {}{} {} {} to {} · id {}{}{}",
            message.at.format("%Y-%m-%d %H:%M:%S"),
            message.kind.as_str(),
            scope,
            message.channel.as_str(),
            state,
            escape(message.destination.as_deref().unwrap_or("?")),
            escape(message.provider_message_id.as_deref().unwrap_or("-")),
            message.failure.as_deref().map(|f| format!(" · {}", escape(f))).unwrap_or_default(),
            feedback
        );
    }
    out
}

/// NPS, answers, response rate and review request outcomes of one shop for a period.
pub async fn kpi(
    store: &impl Store,
    shop: &str,
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    json: bool,
) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    if from > to {
        return Err(CommandError::Usage("--from must not be after --to".into()));
    }
    // Only answers confirmed on the survey page count: a score link opened by a mail scanner
    // (or recorded by a GET before that rule) says nothing about the customer.
    let (answers, unconfirmed): (Vec<_>, Vec<_>) =
        store.survey_answers(&shop_id, from, to).await?.into_iter().partition(|a| a.confirmed);
    let outcomes = store.review_outcomes(&shop_id, from, to).await?;
    let nps = NpsSummary::from_scores(answers.iter().map(|a| a.score));
    let sent = outcomes.iter().filter(|o| matches!(o, ReviewOutcome::Sent { .. })).count();
    let mut skipped = std::collections::BTreeMap::<&str, usize>::new();
    for outcome in &outcomes {
        if let ReviewOutcome::Skipped { reason, .. } = outcome {
            *skipped.entry(reason.as_str()).or_default() += 1;
        }
    }
    let comments = answers.iter().filter(|a| a.comment.is_some()).count();
    if json {
        return Ok(to_json(&serde_json::json!({
            "shop": shop_id,
            "from": from,
            "to": to,
            "nps": nps.score_tenths().map(|tenths| f64::from(tenths) / 10.0),
            "promoters": nps.promoters,
            "passives": nps.passives,
            "detractors": nps.detractors,
            "answers": nps.answers,
            "answers_with_a_comment": comments,
            "unconfirmed_answers": unconfirmed.len(),
            "review_requests_sent": sent,
            "review_requests_skipped": skipped,
        })));
    }
    let mut out = String::new();
    let _ = writeln!(out, "Shop {shop} · {} to {}", from.format("%Y-%m-%d %H:%M"), to.format("%Y-%m-%d %H:%M UTC"));
    let _ = writeln!(
        out,
        "  NPS               {} ({} promoters, {} passives, {} detractors)",
        nps.display(),
        nps.promoters,
        nps.passives,
        nps.detractors
    );
    let _ = writeln!(out, "  answers           {} ({} with a comment)", nps.answers, comments);
    if !unconfirmed.is_empty() {
        let _ =
            writeln!(out, "  not counted       {} unconfirmed (a score link opened, never sent)", unconfirmed.len());
    }
    let rate = if sent == 0 { "n/a".to_owned() } else { format!("{:.1}%", nps.answers as f64 * 100.0 / sent as f64) };
    let _ = writeln!(out, "  response rate     {rate} of review requests sent in the period");
    let _ = writeln!(out, "  requests sent     {sent}");
    let skipped_total: usize = skipped.values().sum();
    let reasons: Vec<String> = skipped.iter().map(|(reason, n)| format!("{reason} {n}")).collect();
    let _ = writeln!(
        out,
        "  requests skipped  {skipped_total}{}",
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) }
    );
    let _ = writeln!(out, "  CSAT              not collected (the review request asks the NPS question only)");
    Ok(out)
}

fn customer_ref(email: &str, orders: &[String]) -> Result<CustomerRef, CommandError> {
    let orders = orders
        .iter()
        .map(|id| OrderId::parse(id).map_err(|e| CommandError::Usage(format!("--order {id:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CustomerRef { email: Some(email.trim().to_owned()).filter(|e| !e.is_empty()), orders })
}

/// Everything the shop holds about a customer, as JSON (to hand to them).
pub async fn customer_export(
    store: &impl Store,
    shop: &str,
    email: &str,
    orders: &[String],
) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let privacy = Privacy { store, clock: &SystemClock };
    let export = privacy.export(&shop_id, &customer_ref(email, orders)?).await?;
    let mut out = serde_json::to_string_pretty(&export).expect("exports serialize");
    out.push('\n');
    Ok(out)
}

/// Forgets a customer: their data leaves every order found by the address or named.
pub async fn customer_erase(
    store: &impl Store,
    shop: &str,
    email: &str,
    orders: &[String],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let clock = ppx_shared::ports::clock::ManualClock::at(at);
    let privacy = Privacy { store, clock: &clock };
    let record = privacy.redact_customer(&shop_id, &customer_ref(email, orders)?).await?;
    Ok(format!("erased the customer's personal data from {} order(s) of shop {shop}\n", record.orders))
}

/// The privacy requests carried out for a shop, oldest first.
pub async fn customer_requests(store: &impl Store, shop: &str, json: bool) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let records = store.privacy_records(&shop_id).await?;
    if json {
        return Ok(to_json(&records));
    }
    let mut out = format!("{} privacy request(s) carried out in shop {shop}\n", records.len());
    for record in &records {
        let _ = writeln!(
            out,
            "  {} · {} · {} order(s){}",
            record.at.format("%Y-%m-%d %H:%M UTC"),
            record.action.as_str(),
            record.orders,
            record.request_id.as_deref().map(|id| format!(" · request {}", escape(id))).unwrap_or_default()
        );
    }
    Ok(out)
}

/// The addresses a shop no longer mails, oldest first.
pub async fn suppression_list(store: &impl Store, shop: &str, json: bool) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let mut suppressions = store.suppressions(&shop_id).await?;
    suppressions.sort_by_key(|s| s.at);
    if json {
        return Ok(to_json(&suppressions));
    }
    let mut out = format!("{} suppressed address(es) in shop {shop}\n", suppressions.len());
    for suppression in &suppressions {
        let _ = writeln!(
            out,
            "  {} · {} · {}{}{}",
            escape(suppression.address.as_deref().unwrap_or("(erased)")),
            suppression.reason.as_str(),
            suppression.at.format("%Y-%m-%d %H:%M UTC"),
            suppression.order.as_ref().map(|o| format!(" · order {}", escape(o.as_str()))).unwrap_or_default(),
            suppression.detail.as_deref().map(|d| format!(" · {}", escape(d))).unwrap_or_default(),
        );
    }
    Ok(out)
}

/// Lets a shop mail an address again (the customer fixed their mailbox, or asked).
pub async fn suppression_remove(store: &impl Store, shop: &str, address: &str) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    if store.unsuppress(&shop_id, address).await? {
        Ok(format!("{} is no longer suppressed in shop {shop}\n", escape(address)))
    } else {
        Err(CommandError::Usage(format!("{} is not suppressed in shop {shop}", escape(address))))
    }
}

/// Stops a shop mailing an address (the customer asked, or support knows it is dead).
pub async fn suppression_add(
    store: &impl Store,
    shop: &str,
    address: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let mailbox =
        ppx_shared::domain::mailbox::Mailbox::parse(address).map_err(|e| CommandError::Usage(e.to_string()))?;
    let suppression = Suppression {
        address: Some(mailbox.address().to_owned()),
        reason: SuppressionReason::Operator,
        at,
        detail: None,
        order: None,
    };
    if store.suppress(&shop_id, mailbox.address(), &suppression).await? {
        Ok(format!("{} is suppressed in shop {shop}\n", escape(address)))
    } else {
        Ok(format!("{} was already suppressed in shop {shop}\n", escape(address)))
    }
}

pub async fn return_list(store: &impl Store, shop: &str, state: &str, json: bool) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let state =
        ReturnState::parse(state).ok_or_else(|| CommandError::Usage(format!("unknown return state {state:?}")))?;
    let mut returns = store.returns_in_state(&shop_id, state).await?;
    returns.sort_by_key(|r| r.created_at);
    if json {
        return Ok(to_json(&returns));
    }
    let mut out = format!("{} return(s) {} in shop {shop}\n", returns.len(), state.as_str());
    for ret in &returns {
        let _ = writeln!(
            out,
            "  {} · order {} · {} · {} · requested {}",
            escape(ret.id.as_str()),
            escape(ret.request.order_id.as_str()),
            match &ret.request.resolution {
                Resolution::Refund => "refund".to_owned(),
                Resolution::StoreCredit => "store credit".to_owned(),
                Resolution::Exchange { variant } => format!("exchange for {}", escape(variant)),
            },
            ret.decision.amount,
            ret.created_at.format("%Y-%m-%d %H:%M UTC"),
        );
        for item in &ret.decision.items {
            let (title, reason) = (escape(&item.title), escape(&item.reason));
            let _ = writeln!(out, "    {} x {title} ({reason}) {:?}", item.quantity, item.verdict);
            for rule in &item.rules {
                let _ = writeln!(out, "      - {}", escape(&rule.customer_text()));
            }
        }
        for rule in &ret.decision.rules {
            let _ = writeln!(out, "    - {}", escape(&rule.customer_text()));
        }
    }
    Ok(out)
}

pub async fn return_move<P: Ports>(
    app: &App<P>,
    shop: &str,
    id: &str,
    state: ReturnState,
    note: Option<String>,
) -> Result<String, CommandError> {
    let settings = settings_of(&app.store, shop).await?;
    let id = ReturnId::parse(id).map_err(|e| CommandError::Usage(e.to_string()))?;
    let ret =
        app.returns().transition(&settings, &id, state, note).await.map_err(|e| CommandError::Usage(e.to_string()))?;
    Ok(format!("return {} is {} (the customer was told)", ret.id, ret.state.as_str()))
}

pub async fn return_parcel<P: Ports>(
    app: &App<P>,
    shop: &str,
    id: &str,
    tracking_number: &str,
    label_url: Option<String>,
) -> Result<String, CommandError> {
    let settings = settings_of(&app.store, shop).await?;
    let id = ReturnId::parse(id).map_err(|e| CommandError::Usage(e.to_string()))?;
    let number = TrackingNumber::parse(tracking_number).map_err(|e| CommandError::Usage(e.to_string()))?;
    let ret = app
        .returns()
        .attach_parcel(&settings, &id, &number, label_url)
        .await
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    Ok(format!("return {} parcel {} registered; carrier scans now move it on", ret.id, number))
}

async fn settings_of(store: &impl Store, shop: &str) -> Result<ShopSettings, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    store.get_settings(&shop_id).await?.ok_or_else(|| CommandError::Usage(format!("unknown shop {shop}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppx_shared::adapters::memory::secrets::MemorySecrets;
    use ppx_shared::adapters::memory::store::MemoryStore;
    use ppx_shared::domain::ids::ShipmentId;
    use ppx_shared::domain::messages::{Channel, MessageRecord, Notice};
    use ppx_shared::domain::order::Order;
    use ppx_shared::domain::settings::WebhookSource;
    use ppx_shared::domain::tracking::{ShipmentTracking, TrackingEvent, TrackingStatus};
    use ppx_shared::inbound::platforms::{PlatformEvent, shopify};
    use ppx_shared::ports::store::Versioned;
    use ppx_shared::ports::store::{OrderStore, SettingsStore};

    const SHOP: &str = "demo-shop";

    fn events(name: &str) -> Vec<u8> {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The sample Shopify order: id 5550001001, number `#1001`.
    fn sample_order() -> Order {
        let shop = ShopId::parse(SHOP).unwrap();
        match shopify::parse(&shop, "orders/create", &events("shopify-orders-create.json")).unwrap() {
            PlatformEvent::Order { order, .. } => *order,
            other => panic!("expected an order, got {other:?}"),
        }
    }

    fn with_id(id: &str, test: bool) -> Order {
        Order { id: OrderId::parse(id).unwrap(), test, ..sample_order() }
    }

    #[tokio::test]
    async fn an_order_is_found_by_its_id_or_by_the_number_its_customer_sees() {
        let store = MemoryStore::new();
        store.upsert_order(&sample_order()).await.unwrap();
        for wanted in ["5550001001", "1001", "#1001", " #1001 "] {
            let shown = order_show(&store, SHOP, wanted, false).await.unwrap();
            assert!(shown.starts_with("Order #1001 (id 5550001001) · shop demo-shop"), "{wanted}: {shown}");
        }
        let json = order_show(&store, SHOP, "#1001", true).await.unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap()["order"]["id"], "5550001001");
        let missing = order_show(&store, SHOP, "1002", false).await.unwrap_err();
        assert_eq!(missing.to_string(), "shop demo-shop has no order with the id or number 1002");
        let other_shop = order_show(&store, "other-shop", "1001", false).await.unwrap_err();
        assert!(matches!(other_shop, CommandError::OrderNotFound { .. }));
    }

    #[tokio::test]
    async fn a_number_on_several_orders_lists_them_and_asks_for_the_id() {
        let store = MemoryStore::new();
        store.upsert_order(&sample_order()).await.unwrap();
        store.upsert_order(&with_id("5550009001", true)).await.unwrap();
        let err = order_show(&store, SHOP, "1001", false).await.unwrap_err();
        let CommandError::AmbiguousOrderNumber { orders, .. } = &err else { panic!("{err}") };
        assert_eq!(orders.len(), 2);
        let said = err.to_string();
        assert!(said.starts_with("order number 1001 is on 2 orders of shop demo-shop: "), "{said}");
        assert!(said.contains("5550001001 (placed ") && said.contains(", test)"), "{said}");
        assert!(said.ends_with("; show one by its id"), "{said}");
        // The id still finds each one.
        assert!(order_show(&store, SHOP, "5550009001", false).await.unwrap().contains("· TEST"));
    }

    /// What a terminal could act on: escape sequences (CSI, OSC title and clipboard), NUL, a
    /// C1 CSI, DEL, bidi overrides and isolates, and a line break that would forge a line.
    const HOSTILE: &str = "A\u{1b}[2J\u{1b}]0;t\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\0\u{9b}31m\u{7f}\u{202e}B\u{2066}C\nD";

    fn hostile_view() -> OrderView {
        let mut order = sample_order();
        order.number = HOSTILE.into();
        order.customer.email = Some(format!("ada{HOSTILE}@example.com"));
        for item in &mut order.items {
            item.title = HOSTILE.into();
            item.variant = Some(HOSTILE.into());
        }
        let shipment = ppx_shared::domain::order::Shipment {
            id: ShipmentId::parse(HOSTILE).unwrap(),
            order_id: order.id.clone(),
            tracking_number: None,
            carrier: Some(HOSTILE.into()),
            tracking_url: None,
            items: Vec::new(),
            created_at: order.placed_at,
            updated_at: order.placed_at,
        };
        let checkpoint = TrackingEvent {
            status: TrackingStatus::InTransit,
            occurred_at: order.placed_at,
            provider_status: "in_transit".into(),
            message: Some(HOSTILE.into()),
            location: Some(HOSTILE.into()),
        };
        let tracking = ShipmentTracking {
            status: Some(TrackingStatus::InTransit),
            checkpoints: vec![checkpoint],
            ..ShipmentTracking::default()
        };
        let key = Notice::shipped(&ShipmentId::parse(HOSTILE).unwrap()).on(Channel::Email);
        let message = MessageRecord {
            destination: Some(HOSTILE.into()),
            provider_message_id: Some(HOSTILE.into()),
            failure: Some(HOSTILE.into()),
            ..MessageRecord::claimed(&key, order.placed_at)
        };
        OrderView {
            tracking: [(shipment.id.clone(), Versioned { value: tracking, version: 1 })].into(),
            shipments: vec![shipment],
            messages: vec![message],
            order: Some(order),
            ..OrderView::default()
        }
    }

    fn acts_on_terminal(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }

    #[test]
    fn stored_text_cannot_drive_the_operators_terminal() {
        let view = hostile_view();
        let text = render_text(&view);
        let unescaped = render_text(&OrderView::default()).lines().count();
        assert!(unescaped > 0);
        for line in text.lines() {
            assert!(!line.chars().any(acts_on_terminal), "{line:?}");
        }
        let escaped =
            "A\\u001b[2J\\u001b]0;t\\u0007\\u001b]52;c;cHduZWQ=\\u0007\\u0000\\u009b31m\\u007f\\u202eB\\u2066C\\u000aD";
        // A shipment id loses its control characters when it is parsed; the rest is escaped.
        let escaped_id = escape(ShipmentId::parse(HOSTILE).unwrap().as_str()).into_owned();
        assert_eq!(escaped_id, "A[2J]0;t]52;c;cHduZWQ=31m\\u202eB\\u2066CD");
        assert!(text.contains(&format!("Order {escaped} (id 5550001001)")), "{text}");
        assert!(text.contains(&format!("customer ada{escaped}@example.com")), "{text}");
        assert!(text.contains(&format!("x {escaped} ({escaped}) @ ")), "{text}");
        assert!(text.contains(&format!("  {escaped_id} · {escaped} (no tracking number)")), "{text}");
        assert!(text.contains(&format!("in_transit {escaped} ({escaped})")), "{text}");
        assert!(
            text.contains(&format!("[{escaped_id}] email SENDING to {escaped} · id {escaped} · {escaped}")),
            "{text}"
        );
        // The line break in every value stayed inside it: no forged lines.
        let forged = text.lines().filter(|line| line.starts_with('D')).count();
        assert_eq!(forged, 0, "{text}");

        let json = render_json(&view);
        assert!(!json.chars().any(|c| acts_on_terminal(c) && c != '\n'), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["order"]["number"], HOSTILE, "the JSON still carries the stored value exactly");
    }

    #[tokio::test]
    async fn shop_put_refuses_overrides_that_do_not_render_and_saves_nothing() {
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../events/shop.example.json")).expect("example settings");
        let dir = std::env::temp_dir().join(format!("ppx-shop-put-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = MemoryStore::new();
        let secrets = MemorySecrets::new();
        let shop = ShopId::parse(example["shop"].as_str().unwrap()).unwrap();

        let mut broken = example.clone();
        broken["templates"] = serde_json::json!({ "delivered.html": "Hi {{ order.numbr }}" });
        let file = dir.join("broken.json");
        std::fs::write(&file, broken.to_string()).unwrap();
        let verified = |_| async { SenderIdentity::Verified };
        let err = shop_put(&store, &secrets, &file, verified, false).await.unwrap_err();
        assert!(matches!(err, CommandError::Templates(_)), "{err}");
        assert!(err.to_string().contains("delivered.html"), "{err}");
        assert!(store.get_settings(&shop).await.unwrap().is_none(), "nothing saved");

        let mut fine = example;
        fine["templates"] = serde_json::json!({ "delivered.subject.txt": "Delivered: {{ order.number }}" });
        let file = dir.join("fine.json");
        std::fs::write(&file, fine.to_string()).unwrap();
        // A sender under no SES identity: refused, unless asked to save anyway.
        let missing =
            shop_put(&store, &secrets, &file, |_| async { SenderIdentity::Missing }, false).await.unwrap_err();
        assert!(missing.to_string().starts_with("not saved: neither demo-shop.example nor the address"), "{missing}");
        assert!(store.get_settings(&shop).await.unwrap().is_none(), "nothing saved");
        let pending = |_| async { SenderIdentity::Pending("demo-shop.example".into()) };
        let saved = shop_put(&store, &secrets, &file, pending, false).await.unwrap();
        assert!(saved.contains("demo-shop.example is not verified yet"), "{saved}");
        assert_eq!(
            shop_put(&store, &secrets, &file, verified, false).await.unwrap(),
            "saved settings of shop demo-shop"
        );
        assert!(store.get_settings(&shop).await.unwrap().is_some());
        // The secrets went to the secret store, not the table.
        let stored = secrets.shop_secrets(&shop).await.unwrap().expect("secrets stored");
        let shopify = stored.webhook(WebhookSource::Shopify).unwrap().expose().to_owned();
        assert!(!serde_json::to_string(&store.get_settings(&shop).await.unwrap()).unwrap().contains(&shopify));
        assert!(shop_get(&store, &secrets, "demo-shop").await.unwrap().contains(r#""shopify": "***""#));

        // A file of settings alone changes no secret; one naming a source replaces that one only.
        let mut settings_only = fine.clone();
        settings_only.as_object_mut().unwrap().remove("webhook_secrets");
        std::fs::write(&file, settings_only.to_string()).unwrap();
        shop_put(&store, &secrets, &file, verified, false).await.unwrap();
        assert_eq!(secrets.shop_secrets(&shop).await.unwrap().unwrap(), stored);
        settings_only["webhook_secrets"] = serde_json::json!({ "shopify": "a rotated shopify secret" });
        std::fs::write(&file, settings_only.to_string()).unwrap();
        shop_put(&store, &secrets, &file, verified, false).await.unwrap();
        let rotated = secrets.shop_secrets(&shop).await.unwrap().unwrap();
        assert_eq!(rotated.webhook(WebhookSource::Shopify).unwrap().expose(), "a rotated shopify secret");
        assert_eq!(rotated.webhook(WebhookSource::Easypost), stored.webhook(WebhookSource::Easypost));

        shop_delete(&store, &secrets, "demo-shop").await.unwrap();
        assert!(secrets.shop_secrets(&shop).await.unwrap().is_none(), "deleted with the shop");
        let _ = std::fs::remove_dir_all(dir);
    }
}
