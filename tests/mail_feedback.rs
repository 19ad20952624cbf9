//! Mail feedback end to end: emails sent by the served functions through the stack's SES
//! configuration set (moto), SES's bounce, complaint and delivery records fed to the
//! mail-feedback function as SNS hands them to Lambda (built from the published samples in
//! `tests/fixtures/ses-*.json`, with the tags the function really sent), the suppression list
//! respected by the next send, and the operator's commands.

use aws_lambda_events::event::sns::SnsEvent;
use mail_feedback::{DropReason, Handled};
use ppx_e2e::{CONFIGURATION_SET, TestEnv, fixture_bytes, read_event};
use ppx_shared::domain::mail_feedback::MailOutcome;
use ppx_shared::domain::messages::{Channel, DeliveryState, MessageKind, MessageRecord};
use ppx_shared::ports::store::roles::*;
use serde_json::{Value, json};

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The sample order as `order_id`, for this test's customer `name` (no SMS consent); its email.
fn customer_order(env: &TestEnv, order_id: u64, name: &str) -> (Value, String) {
    let email = env.customer_email(name);
    let mut order = env.sample_order_for(order_id, &email);
    order["customer"]["sms_marketing_consent"] = Value::Null;
    (order, email)
}

async fn place(env: &TestEnv, order_id: u64, name: &str) -> String {
    let (order, email) = customer_order(env, order_id, name);
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    email
}

async fn fulfill(env: &TestEnv, order_id: u64) {
    let mut fulfillment = read_event("shopify-fulfillments-create.json");
    fulfillment["id"] = json!(order_id + 1);
    fulfillment["order_id"] = json!(order_id);
    fulfillment["created_at"] = json!(env.clock_now().to_rfc3339());
    let reply = env.post_shopify("fulfillments/create", &bytes(&fulfillment), &format!("f-{order_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// The order's email record of `kind`.
async fn email_record(env: &TestEnv, order_id: u64, kind: MessageKind) -> MessageRecord {
    let view = env.order_view(&order_id.to_string()).await;
    let found = view.messages.iter().find(|m| m.kind == kind && m.channel == Channel::Email);
    found.unwrap_or_else(|| panic!("no {kind:?} email in {:?}", view.messages)).clone()
}

/// SES's `event_type` record (from the published sample) about the email `record` names, with
/// the tags the function sent it with, as the SNS event Lambda receives.
fn sns_event(env: &TestEnv, event_type: &str, record: &MessageRecord) -> SnsEvent {
    let address = record.destination.as_deref().unwrap();
    let sample = match event_type {
        "Bounce" => "ses-bounce.json",
        "Complaint" => "ses-complaint.json",
        "Delivery" => "ses-delivery.json",
        other => panic!("no sample for {other}"),
    };
    let mut ses: Value = serde_json::from_slice(&fixture_bytes(sample)).unwrap();
    ses["mail"]["messageId"] = json!(record.provider_message_id.as_deref().unwrap());
    ses["mail"]["destination"] = json!([address]);
    let sent = env.sent.to(address);
    assert!(!sent.is_empty(), "the functions sent nothing to the address");
    for (name, value) in &sent.last().unwrap().tags {
        ses["mail"]["tags"][name] = json!([value]);
    }
    match event_type {
        "Bounce" => ses["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!(address),
        "Complaint" => ses["complaint"]["complainedRecipients"][0]["emailAddress"] = json!(address),
        _ => ses["delivery"]["recipients"] = json!([address]),
    }
    sns_wrapping(&ses.to_string())
}

/// An SNS notification carrying `message`, as the Lambda service delivers one (Lambda
/// developer guide, "Using Lambda with Amazon SNS", example event).
fn sns_wrapping(message: &str) -> SnsEvent {
    let topic = "arn:aws:sns:us-east-1:123456789012:ppx-test-mail-feedback";
    let event = json!({"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": "2026-12-05T00:00:00.000Z",
            "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "Message": message,
            "MessageAttributes": {},
            "Type": "Notification",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "TopicArn": topic,
            "Subject": null
        }
    }]});
    serde_json::from_value(event).expect("the SNS event as Lambda delivers it")
}

async fn feed(env: &TestEnv, event: &SnsEvent) -> Handled {
    let handled = env.mail_feedback_app().handle_event(event).await.unwrap();
    assert_eq!(handled.len(), 1);
    handled[0].clone()
}

#[tokio::test]
async fn a_hard_bounce_stops_every_further_email_to_the_address_until_the_operator_lifts_it() {
    let env = TestEnv::start().await;
    let order_id = 7_100_001;
    let email = place(&env, order_id, "bounce").await;
    let confirmation = email_record(&env, order_id, MessageKind::OrderConfirmation).await;
    // Sent through the stack's configuration set, tagged with the shop and order.
    let sent = env.sent.to(&email);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].configuration_set.as_deref(), Some(CONFIGURATION_SET));
    let tag_names: Vec<&str> = sent[0].tags.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(tag_names, ["ppx-shop", "ppx-order"]);

    let bounce = sns_event(&env, "Bounce", &confirmation);
    let handled = feed(&env, &bounce).await;
    assert_eq!(handled, Handled::Noted { outcome: MailOutcome::Bounced, new: true, suppressed: true });
    // SNS delivers at least once: the same record again changes nothing.
    let again = feed(&env, &bounce).await;
    assert_eq!(again, Handled::Noted { outcome: MailOutcome::Bounced, new: false, suppressed: false });

    let shown = ppx_cli::commands::order_show(&env.store, env.shop(), &order_id.to_string(), false).await.unwrap();
    assert!(shown.contains("order_confirmation email sent"), "{shown}");
    assert!(shown.contains("bounced") && shown.contains("Permanent/General 5.1.1"), "{shown}");

    // The shipping notice is claimed, recorded as skipped, and never handed to SES.
    fulfill(&env, order_id).await;
    assert_eq!(env.emails_to(&email).await.len(), 1, "only the confirmation went");
    let shipped = email_record(&env, order_id, MessageKind::Shipped).await;
    assert_eq!(shipped.state, DeliveryState::Suppressed);
    assert!(shipped.failure.as_deref().unwrap().starts_with("suppressed: hard_bounce"), "{shipped:?}");
    let shown = ppx_cli::commands::order_show(&env.store, env.shop(), &order_id.to_string(), false).await.unwrap();
    assert!(shown.contains("shipped") && shown.contains("SKIPPED"), "{shown}");

    let listed = ppx_cli::commands::suppression_list(&env.store, env.shop(), false).await.unwrap();
    assert!(
        listed.starts_with("1 suppressed") && listed.contains(&email) && listed.contains("hard_bounce"),
        "{listed}"
    );
    ppx_cli::commands::suppression_remove(&env.store, env.shop(), &email.to_uppercase()).await.unwrap();
    let removed_twice = ppx_cli::commands::suppression_remove(&env.store, env.shop(), &email).await;
    assert!(removed_twice.is_err());

    // Lifted: the next notice goes out.
    let delivered = json!({
        "tracking_number": "1Z999AA10123456784",
        "carrier": "UPS",
        "events": [{ "status": "delivered", "occurred_at": env.clock_now().to_rfc3339() }],
    });
    let reply = env.post_tracking(&bytes(&delivered)).await;
    assert_eq!(reply.body["tracking_status"], "delivered", "{}", reply.body);
    assert_eq!(env.emails_to(&email).await.len(), 2, "the delivery notice went");
}

#[tokio::test]
async fn a_complaint_after_the_delivery_is_noted_over_it_and_suppresses_and_strays_are_dropped() {
    let env = TestEnv::start().await;
    let order_id = 7_100_002;
    let email = place(&env, order_id, "complain").await;
    let confirmation = email_record(&env, order_id, MessageKind::OrderConfirmation).await;

    let delivered = feed(&env, &sns_event(&env, "Delivery", &confirmation)).await;
    assert_eq!(delivered, Handled::Noted { outcome: MailOutcome::Delivered, new: true, suppressed: false });
    assert_eq!(env.store.suppression(&env.settings.shop, &email).await.unwrap(), None);
    let complained = feed(&env, &sns_event(&env, "Complaint", &confirmation)).await;
    assert_eq!(complained, Handled::Noted { outcome: MailOutcome::Complained, new: true, suppressed: true });
    // A delivery record arriving late takes nothing back.
    let late = feed(&env, &sns_event(&env, "Delivery", &confirmation)).await;
    assert_eq!(late, Handled::Noted { outcome: MailOutcome::Delivered, new: false, suppressed: false });
    let view = env.order_view(&order_id.to_string()).await;
    assert_eq!(view.mail_feedback.len(), 1);
    assert_eq!(view.mail_feedback[0].outcome, MailOutcome::Complained);
    let suppression = env.store.suppression(&env.settings.shop, &email).await.unwrap().unwrap();
    assert_eq!(suppression.reason.as_str(), "complaint");

    // What names nothing of ours is logged and dropped, writing nothing.
    let before = env.items_written().await;
    let mut stray = confirmation.clone();
    stray.provider_message_id = Some("0100018c-not-one-of-ours".into());
    let unknown = feed(&env, &sns_event(&env, "Bounce", &stray)).await;
    assert_eq!(unknown, Handled::Dropped { reason: DropReason::UnknownMessage });
    let untagged = String::from_utf8(fixture_bytes("ses-bounce.json")).unwrap();
    let dropped = feed(&env, &sns_wrapping(&untagged)).await;
    assert_eq!(dropped, Handled::Dropped { reason: DropReason::Untagged });
    let garbage = feed(&env, &sns_wrapping("{\"eventType\": \"Bounce\"}")).await;
    assert_eq!(garbage, Handled::Dropped { reason: DropReason::Unparsed });
    assert_eq!(env.items_written().await, before);
}

#[tokio::test]
async fn an_account_that_cannot_send_fails_the_email_for_good_without_a_retry_loop() {
    // A sender on a domain SES has not verified: SES answers MessageRejected, the account's
    // problem. The webhook is answered (no platform retry storm), the email recorded as failed
    // with the reason, the text without the customer's address.
    let env = TestEnv::start_with(|settings| {
        settings.sender = ppx_shared::domain::mailbox::Mailbox::parse("orders@unverified-shop.example").unwrap();
    })
    .await;
    let order_id = 7_100_003;
    let email = place(&env, order_id, "account").await;
    let confirmation = email_record(&env, order_id, MessageKind::OrderConfirmation).await;
    assert_eq!(confirmation.state, DeliveryState::Failed);
    let failure = confirmation.failure.as_deref().unwrap();
    assert!(failure.starts_with("account: ") && failure.contains("MessageRejected"), "{failure}");
    assert!(!failure.contains(&email), "{failure}");
    assert!(env.emails_to(&email).await.is_empty());
    // The platform's retry finds it done: nothing more is tried.
    let (order, _) = customer_order(&env, order_id, "account");
    let reply = env.post_shopify("orders/create", &bytes(&order), &format!("o-{order_id}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(env.sent.to(&email).len(), 1, "one SendEmail, never retried");
}

#[tokio::test]
async fn texts_come_from_the_shops_own_number_and_sender_id_as_transactional() {
    let env = TestEnv::start_with(|settings| {
        settings.sms_origination_number = Some("+18005550199".into());
        settings.sms_sender_id = Some("DemoShop".into());
    })
    .await;
    // The sample order's customer consents to texts.
    let order = read_event("shopify-orders-create.json");
    let reply = env.post_shopify("orders/create", &bytes(&order), "o-sms").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let texts = env.sent.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    let attributes = &texts[0].attributes;
    assert_eq!(attributes.get("AWS.SNS.SMS.SMSType").map(String::as_str), Some("Transactional"));
    assert_eq!(attributes.get("AWS.MM.SMS.OriginationNumber").map(String::as_str), Some("+18005550199"));
    assert_eq!(attributes.get("AWS.SNS.SMS.SenderID").map(String::as_str), Some("DemoShop"));
}
