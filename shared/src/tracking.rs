//! The canonical tracking model every carrier format maps into.

use crate::ids::TrackingNumber;
use crate::messages::MessageKind;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One status vocabulary for all providers. See `docs/tracking-status-mapping.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    LabelCreated,
    InTransit,
    OutForDelivery,
    /// The carrier tried and failed; it will usually try again.
    DeliveryAttempted,
    AvailableForPickup,
    Delivered,
    /// Something went wrong (damage, address problem, customs hold...).
    Exception,
    ReturnedToSender,
    /// Says nothing: never changes the state.
    Unknown,
}

impl TrackingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LabelCreated => "label_created",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::DeliveryAttempted => "delivery_attempted",
            Self::AvailableForPickup => "available_for_pickup",
            Self::Delivered => "delivered",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
            Self::Unknown => "unknown",
        }
    }
}

/// One checkpoint of a parcel's journey, as the carrier reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub status: TrackingStatus,
    /// When it happened, by the carrier's clock (never when we heard of it).
    pub occurred_at: DateTime<Utc>,
    /// The provider's own words for the status, e.g. `failure/delivery_attempt` (for support).
    pub provider_status: String,
    /// The carrier's message, e.g. "Delivered, front door".
    pub message: Option<String>,
    /// "City, Region, Country" as far as known.
    pub location: Option<String>,
}

/// What one carrier webhook says about one parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierUpdate {
    pub tracking_number: TrackingNumber,
    pub carrier: Option<String>,
    /// Zero or more checkpoints, in any order, possibly repeated.
    pub events: Vec<TrackingEvent>,
    /// The carrier's estimated delivery date (a calendar date at the destination).
    pub estimated_delivery: Option<NaiveDate>,
    /// The carrier's public tracking page, when the provider gives one.
    pub public_url: Option<String>,
    /// A provider id for the tracker, for support (EasyPost `trk_...`).
    pub provider_reference: Option<String>,
}

/// A customer message a tracking state calls for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Announcement {
    pub kind: MessageKind,
    pub scope: String,
}

impl Announcement {
    pub fn key(&self) -> String {
        format!("{}#{}", self.kind.as_str(), self.scope)
    }
}

/// A shipment's tracking state, derived only from the set of checkpoints ever received, so
/// arrival order, duplicates and grouping cannot change it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShipmentTracking {
    pub status: Option<TrackingStatus>,
    /// The carrier's time of the checkpoint that set `status`.
    pub status_at: Option<DateTime<Utc>>,
    /// Deduplicated, oldest first.
    pub checkpoints: Vec<TrackingEvent>,
    /// No earlier than the last scan: carriers sometimes date the delivery scan wrongly.
    pub delivered_at: Option<DateTime<Utc>>,
    pub estimated_delivery: Option<NaiveDate>,
    /// The newest checkpoint time of the update that gave `estimated_delivery`.
    pub estimate_as_of: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub public_url: Option<String>,
    /// Announcements already made (`kind#scope`); recalled from the order's message records,
    /// never stored, so a failed send cannot leave a mark that stops its retry.
    #[serde(skip)]
    pub announced: BTreeSet<String>,
    /// The latest estimate a delay message went out for (recalled the same way).
    #[serde(skip)]
    pub delay_announced: Option<NaiveDate>,
}

/// Ties at the same instant are broken by how far along the journey a status is.
fn journey_rank(status: TrackingStatus) -> u8 {
    match status {
        TrackingStatus::Unknown => 0,
        TrackingStatus::LabelCreated => 1,
        TrackingStatus::InTransit => 2,
        TrackingStatus::Exception => 3,
        TrackingStatus::OutForDelivery => 4,
        TrackingStatus::DeliveryAttempted => 5,
        TrackingStatus::AvailableForPickup => 6,
        TrackingStatus::Delivered => 7,
        TrackingStatus::ReturnedToSender => 8,
    }
}

impl CarrierUpdate {
    /// Short digests of everything this update says (each checkpoint, the estimate, the carrier
    /// and its link). When every one of them was applied before, the update is no news.
    pub fn digests(&self) -> Vec<String> {
        use sha2::Digest;
        let short = |bytes: &[u8]| hex::encode(&sha2::Sha256::digest(bytes)[..8]);
        let mut digests: Vec<String> =
            self.events.iter().map(|e| short(&serde_json::to_vec(e).expect("events serialize"))).collect();
        if let Some(estimate) = self.estimated_delivery {
            digests.push(format!("e{estimate}"));
        }
        if let Some(carrier) = &self.carrier {
            digests.push(short(format!("carrier {carrier}").as_bytes()));
        }
        if let Some(url) = &self.public_url {
            digests.push(short(format!("url {url}").as_bytes()));
        }
        digests
    }
}

impl ShipmentTracking {
    /// Recalls what was announced about `shipment_id` from the keys (`kind#scope`) of messages
    /// that went out on every channel.
    pub fn recall<'a>(&mut self, shipment_id: &str, done: impl IntoIterator<Item = &'a String>) {
        let delayed = format!("{}#{shipment_id}#", MessageKind::Delayed.as_str());
        for key in done {
            if let Some(date) = key.strip_prefix(&delayed).and_then(|d| d.parse::<NaiveDate>().ok()) {
                self.delay_announced = self.delay_announced.max(Some(date));
            }
            self.announced.insert(key.clone());
        }
    }

    /// Merges an update in and re-derives the state from all checkpoints.
    pub fn merge(&self, update: &CarrierUpdate) -> ShipmentTracking {
        let mut checkpoints = self.checkpoints.clone();
        for event in &update.events {
            if !checkpoints.contains(event) {
                checkpoints.push(event.clone());
            }
        }
        checkpoints.sort_by(|a, b| {
            (a.occurred_at, journey_rank(a.status), &a.provider_status, &a.message, &a.location).cmp(&(
                b.occurred_at,
                journey_rank(b.status),
                &b.provider_status,
                &b.message,
                &b.location,
            ))
        });
        let mut next = derive(checkpoints);
        // The estimate of the update that saw the newest checkpoint wins; ties keep the later date.
        let update_as_of = update.events.iter().map(|e| e.occurred_at).max();
        let candidate = (update_as_of, update.estimated_delivery);
        let current = (self.estimate_as_of, self.estimated_delivery);
        let (as_of, estimate) =
            if update.estimated_delivery.is_some() && candidate > current { candidate } else { current };
        next.estimate_as_of = as_of;
        next.estimated_delivery = estimate;
        next.carrier = update.carrier.clone().or_else(|| self.carrier.clone());
        next.public_url = update.public_url.clone().or_else(|| self.public_url.clone());
        next.announced.clone_from(&self.announced);
        next.delay_announced = self.delay_announced;
        next
    }

    /// The message the current state calls for, if any. Out-for-delivery and attempts are news
    /// once per local day (in `time_zone`); every other milestone once per shipment. In transit
    /// shares its key with the platform's "shipped" message, so it never goes twice.
    pub fn announcement(&self, shipment_id: &str, time_zone: Tz) -> Option<Announcement> {
        let status = self.status?;
        let local_day =
            || self.status_at.map(|t| t.with_timezone(&time_zone).date_naive().to_string()).unwrap_or_default();
        let (kind, scope) = match status {
            TrackingStatus::LabelCreated | TrackingStatus::Unknown => return None,
            TrackingStatus::InTransit => (MessageKind::Shipped, shipment_id.to_owned()),
            TrackingStatus::OutForDelivery => (MessageKind::OutForDelivery, format!("{shipment_id}#{}", local_day())),
            TrackingStatus::DeliveryAttempted => {
                (MessageKind::DeliveryAttempted, format!("{shipment_id}#{}", local_day()))
            }
            TrackingStatus::AvailableForPickup => (MessageKind::AvailableForPickup, shipment_id.to_owned()),
            TrackingStatus::Delivered => (MessageKind::Delivered, shipment_id.to_owned()),
            TrackingStatus::Exception => (MessageKind::Exception, shipment_id.to_owned()),
            TrackingStatus::ReturnedToSender => (MessageKind::ReturnedToSender, shipment_id.to_owned()),
        };
        let announcement = Announcement { kind, scope };
        (!self.announced.contains(&announcement.key())).then_some(announcement)
    }

    /// A delay message when the carrier's estimate is later than promised, and again only when
    /// it slips further.
    pub fn delay_announcement(&self, shipment_id: &str, promised: Option<NaiveDate>) -> Option<Announcement> {
        let estimate = self.estimated_delivery?;
        let finished = matches!(self.status, Some(TrackingStatus::Delivered | TrackingStatus::ReturnedToSender));
        let bar = promised?.max(self.delay_announced.unwrap_or(NaiveDate::MIN));
        (!finished && estimate > bar)
            .then(|| Announcement { kind: MessageKind::Delayed, scope: format!("{shipment_id}#{estimate}") })
    }

    /// Remembers a sent (or already sent) announcement.
    pub fn mark_announced(&mut self, announcement: &Announcement) {
        if announcement.kind == MessageKind::Delayed {
            self.delay_announced = self.delay_announced.max(self.estimated_delivery);
        }
        self.announced.insert(announcement.key());
    }

    /// The derived part only: what the carrier said, not what we did about it.
    pub fn same_journey(&self, other: &ShipmentTracking) -> bool {
        (self.status, self.status_at, &self.checkpoints, self.estimated_delivery, &self.carrier, &self.public_url)
            == (
                other.status,
                other.status_at,
                &other.checkpoints,
                other.estimated_delivery,
                &other.carrier,
                &other.public_url,
            )
    }

    /// Newest first, for the tracking page.
    pub fn timeline(&self) -> impl Iterator<Item = &TrackingEvent> {
        self.checkpoints.iter().rev()
    }
}

/// The state machine over checkpoints sorted by carrier time.
fn derive(checkpoints: Vec<TrackingEvent>) -> ShipmentTracking {
    let mut status: Option<TrackingStatus> = None;
    let mut status_at = None;
    let mut delivered_at = None;
    let mut last_scan = None;
    for event in &checkpoints {
        if event.status == TrackingStatus::Unknown {
            continue;
        }
        last_scan = Some(event.occurred_at);
        let mut next = event.status;
        // A failure right after going out for delivery is a missed attempt, not the end.
        if next == TrackingStatus::Exception && status == Some(TrackingStatus::OutForDelivery) {
            next = TrackingStatus::DeliveryAttempted;
        }
        match status {
            // Returned to sender ends the journey.
            Some(TrackingStatus::ReturnedToSender) => continue,
            // Delivered is final, except for a later return to sender.
            Some(TrackingStatus::Delivered) if next != TrackingStatus::ReturnedToSender => continue,
            _ => {}
        }
        status = Some(next);
        status_at = Some(event.occurred_at);
        if next == TrackingStatus::Delivered {
            delivered_at = Some(event.occurred_at);
        }
    }
    if status == Some(TrackingStatus::Delivered) {
        delivered_at = delivered_at.max(last_scan);
        status_at = delivered_at;
    } else {
        delivered_at = None;
    }
    ShipmentTracking { status, status_at, checkpoints, delivered_at, ..ShipmentTracking::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const SHIPMENT: &str = "S1";

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0).unwrap()
    }

    fn event(status: TrackingStatus, time: DateTime<Utc>, provider_status: &str) -> TrackingEvent {
        TrackingEvent {
            status,
            occurred_at: time,
            provider_status: provider_status.to_owned(),
            message: Some(format!("{provider_status} at {time}")),
            location: Some("Memphis, TN, US".to_owned()),
        }
    }

    /// A FedEx-like journey: two failed attempts before delivery, an `unknown` detail in between.
    fn multi_attempt_history() -> Vec<TrackingEvent> {
        use TrackingStatus::*;
        vec![
            event(LabelCreated, at(23, 15, 0), "pre_transit/label_created"),
            event(InTransit, at(23, 23, 0), "in_transit/arrived_at_facility"),
            event(Unknown, at(24, 3, 0), "in_transit/unknown"),
            event(OutForDelivery, at(24, 13, 0), "out_for_delivery"),
            event(Exception, at(24, 22, 0), "failure"),
            event(InTransit, at(25, 1, 0), "in_transit"),
            event(OutForDelivery, at(25, 13, 30), "out_for_delivery"),
            event(Exception, at(25, 21, 0), "failure"),
            event(OutForDelivery, at(26, 13, 0), "out_for_delivery"),
            event(Delivered, at(26, 18, 0), "delivered"),
        ]
    }

    fn update(events: &[TrackingEvent]) -> CarrierUpdate {
        CarrierUpdate {
            tracking_number: crate::ids::TrackingNumber::parse("1Z999AA10123456784").unwrap(),
            carrier: Some("FedEx".into()),
            events: events.to_vec(),
            estimated_delivery: None,
            public_url: None,
            provider_reference: None,
        }
    }

    /// What the carrier webhook does with each delivery: merge, announce what the state calls for.
    fn deliver(groups: &[Vec<TrackingEvent>]) -> (ShipmentTracking, Vec<(String, DateTime<Utc>)>) {
        let tz = chrono_tz::America::New_York;
        let mut state = ShipmentTracking::default();
        let mut sent = Vec::new();
        for group in groups {
            let mut next = state.merge(&update(group));
            if let Some(announcement) = next.announcement(SHIPMENT, tz) {
                sent.push((announcement.key(), next.status_at.unwrap()));
                next.mark_announced(&announcement);
            }
            state = next;
        }
        (state, sent)
    }

    fn keys(sent: &[(String, DateTime<Utc>)]) -> Vec<&str> {
        sent.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn a_whole_history_at_once_announces_only_the_newest_state() {
        let (state, sent) = deliver(&[multi_attempt_history()]);
        assert_eq!(state.status, Some(TrackingStatus::Delivered));
        assert_eq!(state.delivered_at, Some(at(26, 18, 0)));
        assert_eq!(keys(&sent), ["delivered#S1"]);
    }

    #[test]
    fn one_event_at_a_time_announces_each_milestone_once_attempts_per_day() {
        let singles: Vec<_> = multi_attempt_history().into_iter().map(|e| vec![e]).collect();
        let (state, sent) = deliver(&singles);
        assert_eq!(state.status, Some(TrackingStatus::Delivered));
        assert_eq!(
            keys(&sent),
            [
                "shipped#S1",
                "out_for_delivery#S1#2026-11-24",
                "delivery_attempted#S1#2026-11-24",
                "out_for_delivery#S1#2026-11-25",
                "delivery_attempted#S1#2026-11-25",
                "out_for_delivery#S1#2026-11-26",
                "delivered#S1",
            ]
        );
    }

    #[test]
    fn a_failure_after_out_for_delivery_is_an_attempt_and_otherwise_an_exception() {
        use TrackingStatus::*;
        let (state, _) = deliver(&[multi_attempt_history()[..5].to_vec()]);
        assert_eq!(state.status, Some(DeliveryAttempted));
        let (state, _) =
            deliver(&[vec![event(InTransit, at(23, 1, 0), "t"), event(Exception, at(23, 2, 0), "failure")]]);
        assert_eq!(state.status, Some(Exception));
    }

    #[test]
    fn unknown_details_and_older_events_never_move_the_state() {
        use TrackingStatus::*;
        let (state, sent) = deliver(&[
            vec![event(OutForDelivery, at(24, 13, 0), "ofd")],
            vec![event(Unknown, at(24, 14, 0), "unknown")],
            vec![event(InTransit, at(23, 9, 0), "late arrival of an old scan")],
        ]);
        assert_eq!((state.status, state.status_at), (Some(OutForDelivery), Some(at(24, 13, 0))));
        assert_eq!(keys(&sent), ["out_for_delivery#S1#2026-11-24"]);
    }

    #[test]
    fn delivered_is_final_except_for_a_return_to_sender() {
        use TrackingStatus::*;
        let (state, _) = deliver(&[
            vec![event(Delivered, at(24, 13, 0), "delivered")],
            vec![event(InTransit, at(25, 9, 0), "stray scan")],
        ]);
        assert_eq!(state.status, Some(Delivered));
        let (state, sent) = deliver(&[
            vec![event(Delivered, at(24, 13, 0), "delivered")],
            vec![event(ReturnedToSender, at(26, 9, 0), "return_to_sender")],
        ]);
        assert_eq!(state.status, Some(ReturnedToSender));
        assert_eq!(state.delivered_at, None);
        assert_eq!(keys(&sent), ["delivered#S1", "returned_to_sender#S1"]);
    }

    #[test]
    fn a_delivery_dated_before_the_first_scan_is_delivered_no_earlier_than_the_last_scan() {
        use TrackingStatus::*;
        // EasyPost's published UPS sample: the delivered detail is dated before the first scan.
        let (state, _) = deliver(&[vec![
            event(InTransit, at(21, 14, 48), "in_transit"),
            event(OutForDelivery, at(24, 8, 10), "out_for_delivery"),
            event(Delivered, at(19, 10, 51), "delivered"),
        ]]);
        assert_eq!(state.status, Some(Delivered));
        assert_eq!(state.delivered_at, Some(at(24, 8, 10)));
    }

    #[test]
    fn duplicates_are_kept_once_and_the_timeline_is_newest_first() {
        let history = multi_attempt_history();
        let (state, _) = deliver(&[history.clone(), history.clone(), history[..3].to_vec()]);
        assert_eq!(state.checkpoints.len(), history.len());
        assert_eq!(state.timeline().next().unwrap().status, TrackingStatus::Delivered);
    }

    #[test]
    fn a_delay_is_announced_once_and_again_only_when_it_slips_further() {
        let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let promised = Some(day(11, 27));
        let with_estimate = |state: &ShipmentTracking, estimate: NaiveDate, seen: DateTime<Utc>| {
            let mut u = update(&[event(TrackingStatus::InTransit, seen, "in_transit")]);
            u.estimated_delivery = Some(estimate);
            state.merge(&u)
        };
        let mut state = with_estimate(&ShipmentTracking::default(), day(11, 27), at(23, 1, 0));
        assert_eq!(state.delay_announcement(SHIPMENT, promised), None);
        state = with_estimate(&state, day(11, 30), at(24, 1, 0));
        let first = state.delay_announcement(SHIPMENT, promised).unwrap();
        assert_eq!(first.key(), "delayed#S1#2026-11-30");
        state.mark_announced(&first);
        assert_eq!(state.delay_announcement(SHIPMENT, promised), None);
        // An older update's estimate does not replace a newer one.
        state = with_estimate(&state, day(11, 29), at(23, 12, 0));
        assert_eq!(state.estimated_delivery, Some(day(11, 30)));
        state = with_estimate(&state, day(11, 28), at(25, 1, 0));
        assert_eq!(state.delay_announcement(SHIPMENT, promised), None, "earlier again is not news");
        state = with_estimate(&state, day(11, 30), at(25, 2, 0));
        assert_eq!(state.delay_announcement(SHIPMENT, promised), None, "the same late date again is not news");
        state = with_estimate(&state, day(12, 1), at(26, 1, 0));
        assert_eq!(state.delay_announcement(SHIPMENT, promised).unwrap().key(), "delayed#S1#2026-12-01");
        // Delivered: no more delay messages.
        let delivered = state.merge(&update(&[event(TrackingStatus::Delivered, at(26, 9, 0), "delivered")]));
        assert_eq!(delivered.delay_announcement(SHIPMENT, promised), None);
    }

    /// Any permutation, duplication and grouping of a real multi-attempt history.
    fn deliveries(history: Vec<TrackingEvent>) -> impl Strategy<Value = Vec<Vec<TrackingEvent>>> {
        let n = history.len();
        (Just(history), prop::collection::vec(0..n, n..3 * n), prop::collection::vec(any::<bool>(), 3 * n))
            .prop_map(move |(history, extra, cuts)| {
                // Every event at least once, some more than once, in a shuffled order...
                let mut picks: Vec<usize> = (0..n).collect();
                picks.extend(extra);
                let mut events: Vec<TrackingEvent> = picks.iter().map(|&i| history[i].clone()).collect();
                // ...a deterministic shuffle driven by the cuts...
                for (i, cut) in cuts.iter().enumerate().take(events.len()) {
                    if *cut {
                        let j = (i * 7 + 3) % events.len();
                        events.swap(i, j);
                    }
                }
                // ...cut into webhooks of any size.
                let mut groups = vec![Vec::new()];
                for (i, e) in events.into_iter().enumerate() {
                    groups.last_mut().unwrap().push(e);
                    if cuts[(i * 5) % cuts.len()] {
                        groups.push(Vec::new());
                    }
                }
                groups.retain(|g| !g.is_empty());
                groups
            })
            .prop_shuffle()
    }

    /// The same journey as the providers map it when they say what a failure was
    /// (EasyPost `failure` + an attempt detail, Shippo `delivery_attempted`, AfterShip `AttemptFail`).
    fn labelled_history() -> Vec<TrackingEvent> {
        multi_attempt_history()
            .into_iter()
            .map(|mut e| {
                if e.status == TrackingStatus::Exception {
                    e.status = TrackingStatus::DeliveryAttempted;
                }
                e
            })
            .collect()
    }

    fn check_delivery(
        history: Vec<TrackingEvent>,
        groups: &[Vec<TrackingEvent>],
    ) -> Result<Vec<String>, TestCaseError> {
        let (reference, _) = deliver(std::slice::from_ref(&history));
        let (state, sent) = deliver(groups);
        prop_assert!(state.same_journey(&reference), "final state differs: {:?}", state.status);
        let sent_keys = keys(&sent);
        let mut unique = sent_keys.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), sent_keys.len(), "a message was repeated: {:?}", sent_keys);
        prop_assert_eq!(sent_keys.last().copied(), Some("delivered#S1"));
        prop_assert!(sent.windows(2).all(|w| w[0].1 <= w[1].1), "a message stepped back: {:?}", sent);
        Ok(sent_keys.iter().map(|k| k.to_string()).collect())
    }

    proptest! {
        /// With raw `failure` scans the state still converges; while the scan before a failure
        /// is unknown, the failure may be announced as a problem (what the carrier said then).
        #[test]
        fn any_order_duplication_or_grouping_converges_and_never_repeats_or_steps_back(groups in deliveries(multi_attempt_history())) {
            check_delivery(multi_attempt_history(), &groups)?;
        }

        /// With failures labelled by the provider, every message sent is one of the journey's own
        /// milestones, whatever the order, duplication or grouping.
        #[test]
        fn any_order_duplication_or_grouping_sends_only_the_journeys_milestones(groups in deliveries(labelled_history())) {
            let sent = check_delivery(labelled_history(), &groups)?;
            let singles: Vec<_> = labelled_history().into_iter().map(|e| vec![e]).collect();
            let (_, milestones) = deliver(&singles);
            let allowed = keys(&milestones);
            prop_assert!(sent.iter().all(|k| allowed.contains(&k.as_str())), "{:?} not in {:?}", sent, allowed);
        }
    }
}
