//! The notification policy: which message, if any, a shipment's state deserves and on which
//! channels, decided from its whole timeline and from what its customer was already told. The
//! customer hears something new or something to act on; a situation already told is folded, a
//! scan that arrives too late to be today's news is kept for the tracking page only, carrier
//! noise is never announced, and texts go only for the moments that justify one.

use crate::domain::ids::ShipmentId;
use crate::domain::messages::{Channel, DeliveryState, MessageKind, MessageRecord, MessageScope, Notice};
use crate::domain::quiet_hours::QuietHours;
use crate::domain::situation::Situation;
use crate::domain::tracking::{ShipmentTracking, TrackingStatus};
use crate::domain::watch::WatchSettings;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// More informational messages about one parcel than any shop would want.
pub const MAX_NOTICES_PER_SHIPMENT: u32 = 50;

/// A shop's choices (`notifications` in its settings). The defaults are what most shops want.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// An out-for-delivery or failed-attempt scan that arrives later than this after it
    /// happened is not today's news: kept for the tracking page, not announced.
    pub stale_same_day_hours: u32,
    /// The same for the other milestones (shipped, ready for pickup, a problem, action needed).
    pub stale_hours: u32,
    /// Delivered and returned to sender are announced, with their date, up to this many days
    /// after they happened.
    pub stale_final_days: u32,
    /// Informational emails per shipment (shipped, out for delivery, an attempt, a problem, a
    /// delay). What the customer must act on and the final notice always go.
    pub max_emails_per_shipment: u32,
    /// The same for texts.
    pub max_sms_per_shipment: u32,
    /// A fulfillment's tracking number with no carrier scan this many days later is reported to
    /// the shop (a wrong number, a tracker never registered); 0: never.
    pub untracked_after_days: u32,
    /// A parcel on its way with no scan for this many business days is stalled: the customer
    /// hears that the shop is looking into it, and the shop hears too; 0: never.
    pub stalled_after_business_days: u32,
    /// Stall notices to the customer per shipment; later stalls go to the shop only.
    pub max_stall_notices: u32,
    /// Quiet hours for parcel texts, in the recipient's local time (from the shipping address,
    /// else the shop's zone): from this hour...
    pub quiet_hours_start: u32,
    /// ...to this one; a text that falls in them is sent at their end. Equal hours: none.
    pub quiet_hours_end: u32,
    /// An order not shipped by the end of its ship-by date (`delivery.processing_days` after
    /// the order, cut-off respected): the customer hears once that it is taking longer, the
    /// shop gets `order.not_shipped`.
    pub not_shipped_notice: bool,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            stale_same_day_hours: 12,
            stale_hours: 72,
            stale_final_days: 14,
            max_emails_per_shipment: 6,
            max_sms_per_shipment: 4,
            untracked_after_days: 3,
            stalled_after_business_days: 4,
            max_stall_notices: 2,
            not_shipped_notice: true,
            quiet_hours_start: 21,
            quiet_hours_end: 8,
        }
    }
}

impl NotificationSettings {
    /// When parcel texts wait.
    pub fn quiet_hours(&self) -> QuietHours {
        QuietHours { start: self.quiet_hours_start, end: self.quiet_hours_end }
    }

    /// The part the parcel watch reads.
    pub fn watch(&self) -> WatchSettings {
        WatchSettings {
            untracked_after_days: self.untracked_after_days,
            stalled_after_business_days: self.stalled_after_business_days,
            max_stall_notices: self.max_stall_notices,
            not_shipped_notice: self.not_shipped_notice,
        }
    }
}

/// Why a notice is worth a message at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// News the customer can live without: counted against the shop's caps.
    Informational,
    /// The customer must act, or the journey ended: always told (once).
    Essential,
}

impl Notice {
    /// How much it matters (caps apply to informational notices only).
    pub fn weight(&self) -> Weight {
        match self.kind {
            MessageKind::ActionNeeded
            | MessageKind::AvailableForPickup
            | MessageKind::Delivered
            | MessageKind::ReturnedToSender
            // Counted by its own cap (`max_stall_notices`).
            | MessageKind::Stalled
            | MessageKind::Untracked
            | MessageKind::NotShipped => Weight::Essential,
            MessageKind::Exception if matches!(self.scope, MessageScope::Situation(..)) => Weight::Essential,
            _ => Weight::Informational,
        }
    }

    /// Whether it justifies a text: the first time the parcel is out for delivery, a failed
    /// attempt, something to act on, ready for pickup, delivered; and the order's and returns'
    /// own news. Never a review request.
    pub fn goes_by_sms(&self) -> bool {
        match self.kind {
            MessageKind::OrderConfirmation | MessageKind::ReturnUpdate => true,
            MessageKind::OutForDelivery => !matches!(self.scope, MessageScope::Again(_)),
            MessageKind::DeliveryAttempted
            | MessageKind::ActionNeeded
            | MessageKind::AvailableForPickup
            | MessageKind::Delivered => true,
            MessageKind::Shipped
            | MessageKind::Exception
            | MessageKind::ReturnedToSender
            | MessageKind::Delayed
            | MessageKind::ReviewRequest
            | MessageKind::Stalled
            | MessageKind::Untracked
            | MessageKind::NotShipped => false,
        }
    }
}

/// What a shipment's customer was told: recalled from the records of the messages about it that
/// went out (or failed for good) on every channel, never stored, so a failed send cannot leave
/// a mark that stops its retry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Told {
    /// Each notice and when it first went (a handful per shipment: a list, not a map).
    pub notices: Vec<(Notice, DateTime<Utc>)>,
    /// Informational emails that went out.
    pub emails: u32,
    /// Informational texts that went out.
    pub texts: u32,
}

impl Told {
    /// What the records say was told about `shipment`. `done` holds the records of notices that
    /// are done on every channel; `sent` every record (for the per-channel counts).
    pub fn recall<'a>(
        shipment: &ShipmentId,
        done: impl IntoIterator<Item = &'a MessageRecord>,
        sent: impl IntoIterator<Item = &'a MessageRecord>,
    ) -> Self {
        let mut told = Told::default();
        for record in done.into_iter().filter(|r| r.scope.shipment() == Some(shipment)) {
            let notice = record.key().notice();
            match told.notices.iter_mut().find(|(told, _)| *told == notice) {
                Some((_, at)) => *at = (*at).min(record.at),
                None => told.notices.push((notice, record.at)),
            }
        }
        let about = |r: &&MessageRecord| r.scope.shipment() == Some(shipment) && r.state == DeliveryState::Sent;
        for record in sent.into_iter().filter(about) {
            if record.key().notice().weight() == Weight::Informational {
                match record.channel {
                    Channel::Email => told.emails += 1,
                    Channel::Sms => told.texts += 1,
                    Channel::ShopEvent => {}
                }
            }
        }
        told
    }

    fn any(&self, kind: MessageKind) -> Option<(&Notice, DateTime<Utc>)> {
        self.notices.iter().filter(|(n, _)| n.kind == kind).min_by_key(|(_, at)| *at).map(|(n, at)| (n, *at))
    }

    fn has(&self, notice: &Notice) -> bool {
        self.notices.iter().any(|(told, _)| told == notice)
    }
}

/// What to say about a shipment's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Say `notice`, on email and (if `sms`) by text, where the customer can be reached.
    Announce { notice: Notice, email: bool, sms: bool },
    /// Say nothing, and why.
    Quiet(Quiet),
}

/// Why a state is not announced; `ppx order show` and the logs say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quiet {
    /// Nothing the customer needs to hear (a label, an unknown scan, an ordinary transit scan
    /// after "shipped").
    NothingNew,
    /// Carrier noise ("arriving on time", a label re-printed).
    Noise,
    /// Told already.
    AlreadyTold { notice: Notice },
    /// The same situation as a notice told before (a second failed attempt).
    Folded { like: Notice, told_at: DateTime<Utc> },
    /// The scan arrived `age` after it happened: not today's news.
    Stale { age: Duration },
    /// The shop's cap for informational messages on every channel was reached.
    CapReached,
}

impl fmt::Display for Quiet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NothingNew => f.write_str("nothing new"),
            Self::Noise => f.write_str("carrier noise"),
            Self::AlreadyTold { notice } => write!(f, "already told: {notice}"),
            Self::Folded { like, told_at } => write!(f, "folded: same as {} ({like})", told_at.date_naive()),
            Self::Stale { age } => write!(f, "stale: {} old", human_age(*age)),
            Self::CapReached => f.write_str("cap reached"),
        }
    }
}

fn human_age(age: Duration) -> String {
    match age {
        a if a.num_days() >= 365 => format!("{} years", a.num_days() / 365),
        a if a.num_days() >= 2 => format!("{} days", a.num_days()),
        a => format!("{} hours", a.num_hours()),
    }
}

/// The situation of a shipment's current state: what its newest meaningful checkpoint says.
pub fn current_situation(tracking: &ShipmentTracking) -> Situation {
    let Some(at) = tracking.status_at else { return Situation::Plain };
    tracking
        .checkpoints
        .iter()
        .rev()
        .filter(|e| e.occurred_at == at && e.status != TrackingStatus::Unknown)
        .map(crate::domain::situation::situation)
        .find(|s| *s != Situation::Plain)
        .unwrap_or(Situation::Plain)
}

/// The message `tracking` calls for about `shipment` at `now`, if any, given what was told
/// (`told`) and the shop's `settings`. Two requests that decide on the same history and records
/// pick the same notice, so its claim lets one of them send.
pub fn decide(
    tracking: &ShipmentTracking,
    shipment: &ShipmentId,
    told: &Told,
    now: DateTime<Utc>,
    settings: &NotificationSettings,
) -> Decision {
    use MessageKind as K;
    use TrackingStatus as S;
    let (Some(status), Some(at)) = (tracking.status, tracking.status_at) else {
        return Decision::Quiet(Quiet::NothingNew);
    };
    let situation = current_situation(tracking);
    let once = |kind| Notice::new(kind, MessageScope::Shipment(shipment.clone()));
    let about = |kind, situation| Notice::new(kind, MessageScope::Situation(shipment.clone(), situation));
    let finished = matches!(status, S::Delivered | S::ReturnedToSender);
    let notice = match (status, situation) {
        (S::Unknown | S::LabelCreated, _) => return Decision::Quiet(Quiet::NothingNew),
        (_, Situation::Noise) if !finished => return Decision::Quiet(Quiet::Noise),
        (S::Delivered, _) => once(K::Delivered),
        (S::ReturnedToSender, _) | (_, Situation::ReturningToSender) => once(K::ReturnedToSender),
        (_, s @ (Situation::AwaitingRecipient | Situation::AddressProblem)) => about(K::ActionNeeded, s),
        (S::AvailableForPickup, _) | (_, Situation::HeldForPickup) => once(K::AvailableForPickup),
        (_, s @ (Situation::Refused | Situation::Damaged | Situation::Lost)) => about(K::Exception, s),
        (S::DeliveryAttempted, _) | (S::Exception, Situation::RecipientUnavailable) => {
            // One "we'll try again" per shipment: later attempts are the same news.
            if let Some((like, told_at)) = told.any(K::DeliveryAttempted) {
                return Decision::Quiet(Quiet::Folded { like: like.clone(), told_at });
            }
            once(K::DeliveryAttempted)
        }
        (S::Exception, _) => once(K::Exception),
        (S::OutForDelivery, _) => match (told.any(K::OutForDelivery), told.any(K::DeliveryAttempted)) {
            (None, _) => once(K::OutForDelivery),
            // After a failed attempt, the new attempt is news once.
            (Some(_), Some(_)) => Notice::new(K::OutForDelivery, MessageScope::Again(shipment.clone())),
            (Some((like, told_at)), None) => {
                return Decision::Quiet(Quiet::Folded { like: like.clone(), told_at });
            }
        },
        // "Shipped" shares its key with the platform's fulfillment notice: it never goes twice.
        (S::InTransit, _) => Notice::shipped(shipment),
    };
    if told.has(&notice) {
        return Decision::Quiet(Quiet::AlreadyTold { notice });
    }
    let age = now - at;
    let fresh_for = match notice.kind {
        K::Delivered | K::ReturnedToSender => Duration::days(i64::from(settings.stale_final_days)),
        K::OutForDelivery | K::DeliveryAttempted => Duration::hours(i64::from(settings.stale_same_day_hours)),
        _ => Duration::hours(i64::from(settings.stale_hours)),
    };
    if age > fresh_for {
        return Decision::Quiet(Quiet::Stale { age });
    }
    channels(notice, told, settings)
}

/// `notice` on the channels it may use: texts only for the moments that justify one, and
/// informational notices only while the shop's caps allow.
pub fn channels(notice: Notice, told: &Told, settings: &NotificationSettings) -> Decision {
    let under = |sent: u32, cap: u32| notice.weight() == Weight::Essential || sent < cap;
    let email = under(told.emails, settings.max_emails_per_shipment);
    let sms = notice.goes_by_sms() && under(told.texts, settings.max_sms_per_shipment);
    if !email && !sms {
        return Decision::Quiet(Quiet::CapReached);
    }
    Decision::Announce { notice, email, sms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::TrackingNumber;
    use crate::domain::messages::MessageKey;
    use crate::domain::tracking::{CarrierUpdate, TrackingEvent};
    use chrono::TimeZone;

    /// A seeded Fisher-Yates shuffle (a 64-bit LCG): the same order for the same seed.
    fn shuffle<T>(items: &mut [T], seed: u64) {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        for i in (1..items.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            items.swap(i, (state >> 33) as usize % (i + 1));
        }
    }

    const EMAIL: Channel = Channel::Email;
    const SMS: Channel = Channel::Sms;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, day, hour, minute, 0).unwrap()
    }

    fn scan(status: TrackingStatus, time: DateTime<Utc>, provider_status: &str, message: &str) -> TrackingEvent {
        TrackingEvent {
            status,
            occurred_at: time,
            provider_status: provider_status.to_owned(),
            message: Some(message.to_owned()),
            location: Some("Memphis, TN, US".to_owned()),
        }
    }

    fn shipment() -> ShipmentId {
        ShipmentId::parse("S1").unwrap()
    }

    /// A real FedEx history, rebuilt from FedEx's public scan wording as an aggregator passes it
    /// on (EasyPost's status and the carrier's text): five days out for delivery, six "customer
    /// not available" scans, an address correction, the one scan that needs the customer
    /// (awaiting information from the recipient), a transit exception, then delivered.
    fn fedex_history() -> Vec<TrackingEvent> {
        use TrackingStatus::*;
        let mut history = vec![
            scan(LabelCreated, at(6, 10, 0), "pre_transit", "Shipment information sent to FedEx"),
            scan(InTransit, at(6, 18, 0), "in_transit", "Picked up"),
            scan(InTransit, at(7, 3, 0), "in_transit", "Departed FedEx location"),
            scan(InTransit, at(7, 6, 0), "in_transit", "At local FedEx facility"),
        ];
        for day in 7..12 {
            history.push(scan(OutForDelivery, at(day, 8, 0), "out_for_delivery", "On FedEx vehicle for delivery"));
            history.push(scan(
                Exception,
                at(day, 16, 0),
                "failure",
                "Delivery exception - Customer not available or business closed",
            ));
        }
        history.extend([
            scan(Exception, at(11, 19, 0), "failure", "Customer not available or business closed"),
            scan(InTransit, at(12, 9, 0), "in_transit", "Delivery address corrected"),
            scan(Exception, at(12, 10, 0), "failure", "Awaiting additional delivery information from recipient"),
            scan(Exception, at(13, 9, 0), "failure", "Shipment exception"),
            scan(Delivered, at(14, 11, 0), "delivered", "Delivered"),
        ]);
        history
    }

    fn update(events: Vec<TrackingEvent>) -> CarrierUpdate {
        CarrierUpdate {
            tracking_number: TrackingNumber::parse("794698571234").unwrap(),
            carrier: Some("FedEx".into()),
            events,
            estimated_delivery: None,
            public_url: None,
            provider_reference: None,
        }
    }

    /// The carrier webhook's decisions, in memory: each delivery (checkpoints arriving at a
    /// time) merged, what was sent recalled from the records, the decision taken, its records
    /// written on the channels it chose. Returns the messages sent, in order.
    struct Replay {
        tracking: ShipmentTracking,
        records: Vec<MessageRecord>,
        settings: NotificationSettings,
        quiet: Vec<Quiet>,
    }

    impl Replay {
        fn new() -> Self {
            Self {
                tracking: ShipmentTracking::default(),
                records: Vec::new(),
                settings: NotificationSettings::default(),
                quiet: Vec::new(),
            }
        }

        fn deliver(&mut self, events: Vec<TrackingEvent>, arrives: DateTime<Utc>) {
            self.tracking = self.tracking.merge(&update(events));
            let told = Told::recall(&shipment(), &self.records, &self.records);
            match decide(&self.tracking, &shipment(), &told, arrives, &self.settings) {
                Decision::Announce { notice, email, sms } => {
                    for (channel, on) in [(EMAIL, email), (SMS, sms)] {
                        if on {
                            let record = MessageRecord::claimed(&notice.on(channel), arrives);
                            self.records.push(MessageRecord { state: DeliveryState::Sent, ..record });
                        }
                    }
                }
                Decision::Quiet(why) => self.quiet.push(why),
            }
        }

        /// Each scan arriving `delay` after it happened, one webhook each.
        fn one_by_one(events: Vec<TrackingEvent>, delay: Duration) -> Self {
            let mut replay = Self::new();
            for event in events {
                let arrives = event.occurred_at + delay;
                replay.deliver(vec![event], arrives);
            }
            replay
        }

        fn sent(&self, channel: Channel) -> Vec<String> {
            self.records.iter().filter(|r| r.channel == channel).map(|r| r.key().notice().to_string()).collect()
        }
    }

    #[test]
    fn the_fedex_history_tells_what_is_new_and_what_to_do_and_nothing_else() {
        let replay = Replay::one_by_one(fedex_history(), Duration::minutes(5));
        assert_eq!(
            replay.sent(EMAIL),
            [
                "shipped#S1",
                "out_for_delivery#S1",
                "delivery_attempted#S1",
                "out_for_delivery#S1#again",
                "action_needed#S1#awaiting_recipient",
                "exception#S1",
                "delivered#S1",
            ]
        );
        assert_eq!(
            replay.sent(SMS),
            ["out_for_delivery#S1", "delivery_attempted#S1", "action_needed#S1#awaiting_recipient", "delivered#S1"]
        );
        // Why the other scans were not announced: what the operator reads in `ppx order show`.
        let attempt = "folded: same as 2026-04-07 (delivery_attempted#S1)";
        let again = "already told: out_for_delivery#S1#again";
        let shipped = "already told: shipped#S1";
        let quiet: Vec<String> = replay.quiet.iter().map(ToString::to_string).collect();
        assert_eq!(
            quiet,
            [
                "nothing new", // the label
                shipped,
                shipped,
                attempt, // day 2
                again,
                attempt, // day 3
                again,
                attempt, // day 4
                again,
                attempt, // day 5
                attempt, // the sixth "not available"
                shipped, // the address corrected: back in transit
            ]
        );
    }

    #[test]
    fn the_fedex_history_at_once_or_late_announces_only_what_is_still_news() {
        // All of it in one webhook: the customer hears that it was delivered.
        let mut replay = Replay::new();
        replay.deliver(fedex_history(), at(14, 11, 5));
        assert_eq!((replay.sent(EMAIL), replay.sent(SMS)), (vec!["delivered#S1".into()], vec!["delivered#S1".into()]));
        // Each scan a day late: no "out for delivery" or "attempt" is today's news any more.
        let late = Replay::one_by_one(fedex_history(), Duration::hours(25));
        for sent in late.sent(EMAIL).iter().chain(&late.sent(SMS)) {
            assert!(!sent.starts_with("out_for_delivery") && !sent.starts_with("delivery_attempted"), "{sent}");
        }
        assert!(late.sent(EMAIL).contains(&"delivered#S1".to_owned()));
        assert!(late.quiet.iter().any(|q| matches!(q, Quiet::Stale { .. })));
    }

    #[test]
    fn shuffled_and_duplicated_the_fedex_history_stays_within_its_bounds_and_never_wrong_about_the_day() {
        for seed in 0..50 {
            let mut events = fedex_history();
            let copies: Vec<_> = events.iter().step_by(3).cloned().collect();
            events.extend(copies);
            shuffle(&mut events, seed);
            // Each arrives some minutes to a day after it happened, in shuffled order.
            let mut replay = Replay::new();
            for (i, event) in events.into_iter().enumerate() {
                let arrives = event.occurred_at.max(at(6, 10, 0) + Duration::hours(i as i64 * 4));
                let age = arrives - event.occurred_at;
                let status = event.status;
                let before = replay.records.len();
                replay.deliver(vec![event], arrives);
                // A message about a scan is never sent more than the stale limits after it.
                if replay.records.len() > before
                    && matches!(status, TrackingStatus::OutForDelivery | TrackingStatus::DeliveryAttempted)
                {
                    assert!(age <= Duration::hours(12), "seed {seed}: {age:?}");
                }
            }
            let (emails, texts) = (replay.sent(EMAIL), replay.sent(SMS));
            assert!(emails.len() <= 7 && texts.len() <= 4, "seed {seed}: {emails:?} {texts:?}");
            let unique: std::collections::BTreeSet<_> = emails.iter().collect();
            assert_eq!(unique.len(), emails.len(), "seed {seed}: a notice twice: {emails:?}");
        }
    }

    fn decided(tracking: &ShipmentTracking, told: &Told, now: DateTime<Utc>) -> Decision {
        decide(tracking, &shipment(), told, now, &NotificationSettings::default())
    }

    fn state(events: Vec<TrackingEvent>) -> ShipmentTracking {
        ShipmentTracking::default().merge(&update(events))
    }

    #[test]
    fn carrier_noise_is_never_announced_and_a_delivered_scan_is_never_noise() {
        use TrackingStatus::*;
        let noise = state(vec![scan(InTransit, at(7, 9, 0), "in_transit", "Shipment arriving On-Time")]);
        assert_eq!(decided(&noise, &Told::default(), at(7, 9, 5)), Decision::Quiet(Quiet::Noise));
        let delivered = state(vec![scan(Delivered, at(7, 9, 0), "delivered", "Delivered")]);
        assert!(matches!(decided(&delivered, &Told::default(), at(7, 9, 5)), Decision::Announce { .. }));
    }

    #[test]
    fn what_needs_the_customer_is_told_once_each_and_past_the_caps() {
        use TrackingStatus::*;
        let told = Told { emails: 6, texts: 4, ..Told::default() };
        let cases = [
            ("Incorrect address", "action_needed#S1#address_problem", true),
            ("Awaiting additional delivery information from recipient", "action_needed#S1#awaiting_recipient", true),
            ("Refused by recipient", "exception#S1#refused", false),
            ("Package damaged", "exception#S1#damaged", false),
        ];
        for (text, notice, sms) in cases {
            let tracking = state(vec![scan(Exception, at(8, 9, 0), "failure", text)]);
            match decided(&tracking, &told, at(8, 9, 5)) {
                Decision::Announce { notice: n, email, sms: s } => {
                    assert_eq!((n.to_string().as_str(), email, s), (notice, true, sms), "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        // The caps stop informational news.
        let plain = state(vec![scan(Exception, at(8, 9, 0), "failure", "Shipment exception")]);
        assert_eq!(decided(&plain, &told, at(8, 9, 5)), Decision::Quiet(Quiet::CapReached));
    }

    #[test]
    fn a_stale_scan_says_how_old_it_is() {
        use TrackingStatus::*;
        let old = state(vec![scan(OutForDelivery, at(1, 8, 0), "out_for_delivery", "On FedEx vehicle for delivery")]);
        let quiet = decided(&old, &Told::default(), at(4, 8, 0));
        assert_eq!(quiet, Decision::Quiet(Quiet::Stale { age: Duration::days(3) }));
        let Decision::Quiet(quiet) = quiet else { unreachable!() };
        assert_eq!(quiet.to_string(), "stale: 3 days old");
        let ancient = state(vec![scan(Delivered, at(1, 8, 0), "delivered", "Delivered")]);
        let Decision::Quiet(quiet) = decided(&ancient, &Told::default(), at(1, 8, 0) + Duration::days(1100)) else {
            panic!()
        };
        assert_eq!(quiet.to_string(), "stale: 3 years old");
    }

    #[test]
    fn records_of_earlier_versions_count_as_told() {
        use TrackingStatus::*;
        // Before the policy, out for delivery and attempts were keyed by their local day.
        let day = MessageScope::parse(MessageKind::DeliveryAttempted, "S1#2026-04-07").unwrap();
        let old = MessageKey::new(MessageKind::DeliveryAttempted, day, EMAIL);
        let records = [MessageRecord { state: DeliveryState::Sent, ..MessageRecord::claimed(&old, at(7, 16, 5)) }];
        let told = Told::recall(&shipment(), &records, &records);
        let again = state(vec![scan(Exception, at(8, 16, 0), "failure", "Customer not available or business closed")]);
        assert!(matches!(decided(&again, &told, at(8, 16, 5)), Decision::Quiet(Quiet::Folded { .. })));
    }
}
