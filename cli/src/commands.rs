//! Operator commands: table creation, shop settings, and looking at an order.

use ppx_shared::clock::Clock;
use ppx_shared::ids::{OrderId, ShopId, TrackingNumber};
use ppx_shared::messages::DeliveryState;
use ppx_shared::messaging::{EmailSender, EventPublisher, SmsSender};
use ppx_shared::nps::NpsSummary;
use ppx_shared::returns::{Resolution, ReturnState};
use ppx_shared::settings::{SettingsError, ShopSettings};
use ppx_shared::store::dynamo::{DynamoStore, create_table_if_missing};
use ppx_shared::store::{OrderView, ReviewOutcome, Store, StoreError};
use return_submitted::ReturnSubmitted;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    CaBundle(#[from] ppx_shared::aws::CaBundleError),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("order {order} of shop {shop} not found")]
    OrderNotFound { shop: String, order: String },
    #[error("not saved: the shop's template overrides do not render: {0}")]
    Templates(#[from] ppx_shared::templates::TemplateError),
}

pub async fn init(store: &DynamoStore) -> Result<String, CommandError> {
    let created = create_table_if_missing(store.client(), store.table()).await?;
    Ok(if created {
        format!("created table {}", store.table())
    } else {
        format!("table {} already exists", store.table())
    })
}

pub async fn shop_put(store: &impl Store, file: &Path) -> Result<String, CommandError> {
    let raw = std::fs::read_to_string(file)
        .map_err(|source| CommandError::Read { path: file.display().to_string(), source })?;
    let settings = ShopSettings::from_json(&raw)?;
    // Every message and page must render with the shop's overrides before any order meets them.
    ppx_shared::template_check::check_overrides_render(&settings)?;
    store.put_settings(&settings).await?;
    Ok(format!("saved settings of shop {}", settings.shop))
}

pub async fn order_show(store: &impl Store, shop: &str, order: &str, json: bool) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let order_id = OrderId::parse(order).map_err(|e| CommandError::Usage(e.to_string()))?;
    let view = store.order_view(&shop_id, &order_id).await?;
    if view.order.is_none() && view.shipments.is_empty() && view.messages.is_empty() {
        return Err(CommandError::OrderNotFound { shop: shop.to_owned(), order: order.to_owned() });
    }
    Ok(if json { render_json(&view) } else { render_text(&view) })
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
    serde_json::to_string_pretty(&value).expect("views serialize")
}

/// What an operator answering "did the customer get this?" needs, on one screen.
pub fn render_text(view: &OrderView) -> String {
    let mut out = String::new();
    match &view.order {
        Some(order) => {
            let _ = writeln!(
                out,
                "Order {} (id {}) · shop {} · {:?} · {:?} · payment {:?}{}",
                order.number,
                order.id,
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
                order.customer.email.as_deref().unwrap_or("(no email)"),
                if order.customer.sms_consent { "yes" } else { "no" }
            );
            for item in &order.items {
                let variant = item.variant.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
                let _ = writeln!(out, "  {} x {}{} @ {}", item.quantity, item.title, variant, item.unit_price);
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
            shipment.id,
            shipment.carrier.as_deref().unwrap_or("carrier?"),
            shipment.tracking_number.as_ref().map_or("(no tracking number)", |t| t.as_str()),
            shipment.items.iter().map(|i| i.quantity).sum::<u32>()
        );
        if let Some(tracking) = view.tracking.get(&shipment.id).map(|v| &v.value) {
            let status = tracking.status.map_or("no scans yet", |s| s.as_str());
            let estimate = tracking.estimated_delivery.map(|d| format!(" · carrier estimate {d}")).unwrap_or_default();
            let _ = writeln!(out, "    tracking {status}{estimate} · {} checkpoint(s)", tracking.checkpoints.len());
            for event in tracking.timeline().take(3) {
                let _ = writeln!(
                    out,
                    "      {} {} {}{}",
                    event.occurred_at.format("%Y-%m-%d %H:%M UTC"),
                    event.status.as_str(),
                    event.message.as_deref().unwrap_or(""),
                    event.location.as_deref().map(|l| format!(" ({l})")).unwrap_or_default()
                );
            }
        }
    }
    for ret in &view.returns {
        let _ = writeln!(
            out,
            "Return {} · {} · {} · {} item(s) · {}",
            ret.id,
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
        };
        let scope = if message.scope.is_empty() { String::new() } else { format!(" [{}]", message.scope) };
        let _ = writeln!(
            out,
            "  {} {}{} {} {} to {} · id {}{}",
            message.at.format("%Y-%m-%d %H:%M:%S"),
            message.kind.as_str(),
            scope,
            message.channel.as_str(),
            state,
            message.destination.as_deref().unwrap_or("?"),
            message.provider_message_id.as_deref().unwrap_or("-"),
            message.failure.as_deref().map(|f| format!(" · {f}")).unwrap_or_default()
        );
    }
    out
}

/// NPS, answers, response rate and review request outcomes of one shop for a period.
pub async fn kpi(
    store: &impl Store,
    shop: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
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

pub async fn return_list(store: &impl Store, shop: &str, state: &str) -> Result<String, CommandError> {
    let shop_id = ShopId::parse(shop).map_err(|e| CommandError::Usage(e.to_string()))?;
    let state =
        ReturnState::parse(state).ok_or_else(|| CommandError::Usage(format!("unknown return state {state:?}")))?;
    let mut returns = store.returns_in_state(&shop_id, state).await?;
    returns.sort_by_key(|r| r.created_at);
    let mut out = format!("{} return(s) {} in shop {shop}\n", returns.len(), state.as_str());
    for ret in &returns {
        let _ = writeln!(
            out,
            "  {} · order {} · {} · {} · requested {}",
            ret.id,
            ret.request.order_id,
            match &ret.request.resolution {
                Resolution::Refund => "refund".to_owned(),
                Resolution::StoreCredit => "store credit".to_owned(),
                Resolution::Exchange { variant } => format!("exchange for {variant}"),
            },
            ret.decision.amount,
            ret.created_at.format("%Y-%m-%d %H:%M UTC"),
        );
        for item in &ret.decision.items {
            let _ = writeln!(out, "    {} x {} ({}) {:?}", item.quantity, item.title, item.reason, item.verdict);
            for rule in &item.rules {
                let _ = writeln!(out, "      - {}", rule.customer_text());
            }
        }
        for rule in &ret.decision.rules {
            let _ = writeln!(out, "    - {}", rule.customer_text());
        }
    }
    Ok(out)
}

pub async fn return_move<S, E, T, P, C>(
    app: &ReturnSubmitted<S, E, T, P, C>,
    shop: &str,
    id: &str,
    state: ReturnState,
    note: Option<String>,
) -> Result<String, CommandError>
where
    S: Store,
    E: EmailSender,
    T: SmsSender,
    P: EventPublisher,
    C: Clock,
{
    let settings = settings_of(&app.store, shop).await?;
    let ret =
        app.flow().transition(&settings, id, state, note).await.map_err(|e| CommandError::Usage(e.to_string()))?;
    Ok(format!("return {} is {} (the customer was told)", ret.id, ret.state.as_str()))
}

pub async fn return_parcel<S, E, T, P, C>(
    app: &ReturnSubmitted<S, E, T, P, C>,
    shop: &str,
    id: &str,
    tracking_number: &str,
    label_url: Option<String>,
) -> Result<String, CommandError>
where
    S: Store,
    E: EmailSender,
    T: SmsSender,
    P: EventPublisher,
    C: Clock,
{
    let settings = settings_of(&app.store, shop).await?;
    let number = TrackingNumber::parse(tracking_number).map_err(|e| CommandError::Usage(e.to_string()))?;
    let ret = app
        .flow()
        .attach_parcel(&settings, id, &number, label_url)
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
    use ppx_shared::store::memory::MemoryStore;

    #[tokio::test]
    async fn shop_put_refuses_overrides_that_do_not_render_and_saves_nothing() {
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../events/shop.example.json")).expect("example settings");
        let dir = std::env::temp_dir().join(format!("ppx-shop-put-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = MemoryStore::new();
        let shop = ShopId::parse(example["shop"].as_str().unwrap()).unwrap();

        let mut broken = example.clone();
        broken["templates"] = serde_json::json!({ "delivered.html": "Hi {{ order.numbr }}" });
        let file = dir.join("broken.json");
        std::fs::write(&file, broken.to_string()).unwrap();
        let err = shop_put(&store, &file).await.unwrap_err();
        assert!(matches!(err, CommandError::Templates(_)), "{err}");
        assert!(err.to_string().contains("delivered.html"), "{err}");
        assert!(store.get_settings(&shop).await.unwrap().is_none(), "nothing saved");

        let mut fine = example;
        fine["templates"] = serde_json::json!({ "delivered.subject.txt": "Delivered: {{ order.number }}" });
        let file = dir.join("fine.json");
        std::fs::write(&file, fine.to_string()).unwrap();
        shop_put(&store, &file).await.unwrap();
        assert!(store.get_settings(&shop).await.unwrap().is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
