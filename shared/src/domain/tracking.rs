//! The canonical tracking model every carrier format maps into.

use crate::domain::ids::{ShipmentId, TrackingNumber};
use crate::domain::messages::{DelayNotice, MessageKind, MessageRecord, MessageScope, Notice};
use crate::domain::names::wire_enum;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most checkpoints a shipment keeps: the newest, plus the few older ones its state rests on
/// (see [`ShipmentTracking::merge`]). Carriers' real histories are 5 to 60 scans; 250 keeps the
/// longest of them whole while bounding the shipment's tracking item however many events a
/// carrier sends over time.
pub const MAX_CHECKPOINTS: usize = 250;
/// Older checkpoints a shipment keeps beyond [`MAX_CHECKPOINTS`] at most: its first delivery,
/// its first return to sender, and its last two scans that say something.
const MAX_ANCHORS: usize = 4;
/// Longest carrier texts a checkpoint keeps, in bytes (cut on a character boundary). Real ones
/// are far shorter: `in_transit/arrived_at_facility`, "Delivered, front door", "MEMPHIS, TN, US".
pub const PROVIDER_STATUS_MAX_BYTES: usize = 100;
pub const MESSAGE_MAX_BYTES: usize = 400;
pub const LOCATION_MAX_BYTES: usize = 150;
/// Longest carrier name a shipment keeps, in bytes (cut on a character boundary).
pub const CARRIER_MAX_BYTES: usize = 100;
/// Longest carrier tracking link a shipment keeps; a longer one is dropped (a cut link is wrong).
pub const PUBLIC_URL_MAX_BYTES: usize = 2048;
// Worst case of a shipment's tracking item: (MAX_CHECKPOINTS + MAX_ANCHORS) = 254 checkpoints of
// at most 100 + 400 + 150 bytes of text and about 110 bytes of field names, status and time:
// 254 x 760 B = 193 KB, 194 KB with the carrier, the link and the dates (measured as JSON, which
// is larger than DynamoDB's count): under half of DynamoDB's 400 KB item limit
// (`a_capped_state_of_maximal_checkpoints_stays_well_under_400_kb`).

/// Delay notices a shipment gets at most, whatever its carrier's estimate does.
pub const MAX_DELAY_NOTICES: u32 = 3;

wire_enum! {
    /// One status vocabulary for all providers. See `docs/tracking-status-mapping.md`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum TrackingStatus {
        LabelCreated = "label_created",
        InTransit = "in_transit",
        OutForDelivery = "out_for_delivery",
        /// The carrier tried and failed; it will usually try again.
        DeliveryAttempted = "delivery_attempted",
        AvailableForPickup = "available_for_pickup",
        Delivered = "delivered",
        /// Something went wrong (damage, address problem, customs hold...).
        Exception = "exception",
        ReturnedToSender = "returned_to_sender",
        /// Says nothing: never changes the state.
        Unknown = "unknown",
    }
}

/// One checkpoint of a parcel's journey, as the carrier reported it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

impl TrackingEvent {
    /// Everything the checkpoint says, in the order checkpoints are kept: carrier time, then (at
    /// the same instant) how far along the journey its status is, then its words. Equal keys
    /// are equal checkpoints (the rank tells every status apart).
    fn order_key(&self) -> (DateTime<Utc>, u8, &str, Option<&str>, Option<&str>) {
        #[cfg(test)]
        tests::count_order_key();
        (
            self.occurred_at,
            journey_rank(self.status),
            &self.provider_status,
            self.message.as_deref(),
            self.location.as_deref(),
        )
    }

    /// The order key of what a shipment keeps of the checkpoint ([`TrackingEvent::bounded`]),
    /// without building it.
    fn kept_key(&self) -> (DateTime<Utc>, u8, &str, Option<&str>, Option<&str>) {
        #[cfg(test)]
        tests::count_order_key();
        (
            self.occurred_at,
            journey_rank(self.status),
            cut(&self.provider_status, PROVIDER_STATUS_MAX_BYTES),
            self.message.as_deref().map(|m| cut(m, MESSAGE_MAX_BYTES)),
            self.location.as_deref().map(|l| cut(l, LOCATION_MAX_BYTES)),
        )
    }

    /// The checkpoint with its texts cut to what a shipment keeps.
    fn bounded(&self) -> TrackingEvent {
        TrackingEvent {
            status: self.status,
            occurred_at: self.occurred_at,
            provider_status: cut(&self.provider_status, PROVIDER_STATUS_MAX_BYTES).to_owned(),
            message: self.message.as_deref().map(|m| cut(m, MESSAGE_MAX_BYTES).to_owned()),
            location: self.location.as_deref().map(|l| cut(l, LOCATION_MAX_BYTES).to_owned()),
        }
    }
}

impl PartialEq for TrackingEvent {
    fn eq(&self, other: &Self) -> bool {
        self.order_key() == other.order_key()
    }
}

impl Eq for TrackingEvent {}

/// `text` cut to at most `max_bytes`, on a character boundary.
fn cut(text: &str, max_bytes: usize) -> &str {
    &text[..text.floor_char_boundary(max_bytes)]
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

/// A shipment's tracking state, derived only from the set of checkpoints ever received, so
/// arrival order, duplicates and grouping cannot change it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShipmentTracking {
    pub status: Option<TrackingStatus>,
    /// The carrier's time of the checkpoint that set `status`.
    pub status_at: Option<DateTime<Utc>>,
    /// Deduplicated, oldest first: the newest [`MAX_CHECKPOINTS`] of all ever received, and the
    /// few older ones the state rests on.
    pub checkpoints: Vec<TrackingEvent>,
    /// The carrier time of the newest checkpoint left out by the cap: the carrier's history up
    /// to then is not all kept. (A count could not be kept exactly: a carrier resending its
    /// whole history would count the same old scans again.)
    #[serde(default)]
    pub omitted_until: Option<DateTime<Utc>>,
    /// No earlier than the last scan: carriers sometimes date the delivery scan wrongly.
    pub delivered_at: Option<DateTime<Utc>>,
    pub estimated_delivery: Option<NaiveDate>,
    /// The newest checkpoint time of the update that gave `estimated_delivery`.
    pub estimate_as_of: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub public_url: Option<String>,
    /// Why states of this shipment were not announced, oldest first, the newest
    /// [`MAX_QUIET_NOTES`]: what `ppx order show` explains. Written with the state it was
    /// decided on, so it costs no request of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet: Vec<QuietNote>,
    /// When the parcel watch looks at it again if no scan comes (`domain::watch`): set from the
    /// shop's settings with each write, `None` once the journey ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_at: Option<DateTime<Utc>>,
    /// The delay notices already sent: recalled from the message records, never stored.
    #[serde(skip)]
    pub delays: DelayNotices,
}

/// Reasons a shipment keeps for the operator.
pub const MAX_QUIET_NOTES: usize = 20;

/// A state that was not announced, and why ("folded: same as 2026-04-07 (...)", "stale: 3 days
/// old", "cap reached", "carrier noise").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietNote {
    /// The carrier's time of the state.
    pub at: DateTime<Utc>,
    pub status: TrackingStatus,
    pub reason: String,
}

/// What a shipment's customer was told about delays, recalled from the records of the delay
/// notices that went out on every channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelayNotices {
    pub sent: u32,
    /// The latest carrier estimate one of them announced.
    pub latest_estimate: Option<NaiveDate>,
    /// The shop's local day the last one went out.
    pub last_day: Option<NaiveDate>,
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
    /// Short digests of everything this update says (each checkpoint a shipment would keep of
    /// it, the newest it would leave out, the estimate, the carrier and its link). When every
    /// one of them was applied before, the update is no news. At most [`MAX_CHECKPOINTS`] and a
    /// few more, however long the update.
    pub fn digests(&self) -> Vec<String> {
        use sha2::Digest;
        let short = |bytes: &[u8]| hex::encode(&sha2::Sha256::digest(bytes)[..8]);
        let (kept, omitted) = keep(&self.events, MAX_CHECKPOINTS);
        let mut digests: Vec<String> =
            kept.iter().map(|e| short(&serde_json::to_vec(e).expect("events serialize"))).collect();
        if let Some(omitted) = omitted {
            digests.push(short(format!("omitted until {omitted}").as_bytes()));
        }
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
    /// Recalls the delay notices sent about `shipment_id` from the records of the messages that
    /// went out on every channel: how many went, the estimate they announced and the local day
    /// (in `time_zone`) the last one went. (What else was told: [`crate::domain::notification::Told`].)
    pub fn recall<'a>(
        &mut self,
        shipment_id: &ShipmentId,
        time_zone: Tz,
        done: impl IntoIterator<Item = &'a MessageRecord>,
    ) {
        let mut delays: BTreeMap<DelayNotice, (Option<NaiveDate>, DateTime<Utc>)> = BTreeMap::new();
        for record in done {
            let MessageScope::Delay(id, notice) = &record.scope else { continue };
            if id != shipment_id {
                continue;
            }
            // Before numbered notices, a delay's scope was the estimate it announced.
            let estimate = record.estimated_delivery.or(match notice {
                DelayNotice::ForEstimate(estimate) => Some(*estimate),
                DelayNotice::Numbered(_) => None,
            });
            let (latest, at) = delays.entry(*notice).or_insert((estimate, record.at));
            *latest = (*latest).max(estimate);
            *at = (*at).max(record.at);
        }
        self.delays = DelayNotices {
            sent: u32::try_from(delays.len()).unwrap_or(u32::MAX),
            latest_estimate: delays.values().filter_map(|(estimate, _)| *estimate).max(),
            last_day: delays.values().map(|(_, at)| at.with_timezone(&time_zone).date_naive()).max(),
        };
    }

    /// Merges an update in and re-derives the state from the checkpoints kept: the newest
    /// [`MAX_CHECKPOINTS`] of all ever received (texts cut to their bounds, duplicates once),
    /// plus the older ones the state rests on. Keeping "the newest N of the union" does not
    /// depend on arrival order or grouping, and the state derived from what is kept is the
    /// state of the whole history. O(n log n) in the checkpoints held and received.
    pub fn merge(&self, update: &CarrierUpdate) -> ShipmentTracking {
        self.merge_keeping(update, MAX_CHECKPOINTS)
    }

    fn merge_keeping(&self, update: &CarrierUpdate, cap: usize) -> ShipmentTracking {
        let (checkpoints, omitted) = keep(self.checkpoints.iter().chain(&update.events), cap);
        let mut next = derive(checkpoints);
        next.omitted_until = self.omitted_until.max(omitted);
        // The estimate of the update that saw the newest checkpoint wins; ties keep the later date.
        let update_as_of = update.events.iter().map(|e| e.occurred_at).max();
        let candidate = (update_as_of, update.estimated_delivery);
        let current = (self.estimate_as_of, self.estimated_delivery);
        let (as_of, estimate) =
            if update.estimated_delivery.is_some() && candidate > current { candidate } else { current };
        next.estimate_as_of = as_of;
        next.estimated_delivery = estimate;
        let carrier = update.carrier.as_deref().map(|c| cut(c, CARRIER_MAX_BYTES).to_owned());
        next.carrier = carrier.or_else(|| self.carrier.clone());
        let public_url = update.public_url.clone().filter(|url| url.len() <= PUBLIC_URL_MAX_BYTES);
        next.public_url = public_url.or_else(|| self.public_url.clone());
        next.quiet.clone_from(&self.quiet);
        next.watch_at = self.watch_at;
        next.delays = self.delays;
        next
    }

    /// Notes why the current state is not announced (once per state and reason), keeping the
    /// newest [`MAX_QUIET_NOTES`].
    pub fn note_quiet(&mut self, reason: impl ToString) {
        let (Some(status), Some(at)) = (self.status, self.status_at) else { return };
        let note = QuietNote { at, status, reason: reason.to_string() };
        if self.quiet.contains(&note) {
            return;
        }
        self.quiet.push(note);
        let excess = self.quiet.len().saturating_sub(MAX_QUIET_NOTES);
        self.quiet.drain(..excess);
    }

    /// A delay notice when the carrier's estimate is later than promised, and again only when it
    /// slips further than the last one announced; at most one per local day (`today`, in the
    /// shop's time zone) and [`MAX_DELAY_NOTICES`] per shipment. Notices are numbered
    /// (`{shipment}#delay-{n}`, n counting those sent): two requests that decide on the same
    /// history pick the same scope, so its claim lets one send, and notice n+1 is only picked
    /// after notice n went out on an earlier day.
    pub fn delay_announcement(
        &self,
        shipment_id: &ShipmentId,
        promised: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Option<Notice> {
        let estimate = self.estimated_delivery?;
        let finished = matches!(self.status, Some(TrackingStatus::Delivered | TrackingStatus::ReturnedToSender));
        let bar = promised?.max(self.delays.latest_estimate.unwrap_or(NaiveDate::MIN));
        let quiet = self.delays.sent >= MAX_DELAY_NOTICES || self.delays.last_day >= Some(today);
        (!finished && !quiet && estimate > bar).then(|| {
            let next = DelayNotice::Numbered(self.delays.sent + 1);
            Notice::new(MessageKind::Delayed, MessageScope::Delay(shipment_id.clone(), next))
        })
    }

    /// The derived part only: what the carrier said, not what we did about it.
    pub fn same_journey(&self, other: &ShipmentTracking) -> bool {
        fn journey(t: &ShipmentTracking) -> impl PartialEq + '_ {
            (t.status, t.status_at, &t.checkpoints, t.omitted_until, t.estimated_delivery, &t.carrier, &t.public_url)
        }
        journey(self) == journey(other)
    }

    /// Newest first, for the tracking page.
    pub fn timeline(&self) -> impl Iterator<Item = &TrackingEvent> {
        self.checkpoints.iter().rev()
    }
}

/// Sorts and deduplicates `received`, and keeps the newest `cap` and the older checkpoints the
/// state machine rests on: the first delivery, the first return to sender and the last two
/// scans that say something (an exception right after going out for delivery is an attempt).
/// With them, [`derive`] gives the state of the whole history; and since each part is "the
/// newest (or oldest) few of a kind", keeping from what was kept plus more gives what keeping
/// from everything gives. Also returns the carrier time of the newest checkpoint left out.
fn keep<'a>(
    received: impl IntoIterator<Item = &'a TrackingEvent>,
    cap: usize,
) -> (Vec<TrackingEvent>, Option<DateTime<Utc>>) {
    // Sorted and compared as kept (texts cut), and only what is kept is copied.
    let mut received: Vec<&TrackingEvent> = received.into_iter().collect();
    received.sort_unstable_by(|a, b| a.kept_key().cmp(&b.kept_key()));
    received.dedup_by(|a, b| a.kept_key() == b.kept_key());
    let window = received.len().saturating_sub(cap);
    let mut anchors = Vec::with_capacity(MAX_ANCHORS);
    if window > 0 {
        let first = |status| received.iter().position(|e| e.status == status);
        anchors.extend(first(TrackingStatus::Delivered));
        anchors.extend(first(TrackingStatus::ReturnedToSender));
        let said = received.iter().enumerate().rev().filter(|(_, e)| e.status != TrackingStatus::Unknown);
        anchors.extend(said.map(|(i, _)| i).take(2));
    }
    let is_kept = |index: &usize| *index >= window || anchors.contains(index);
    // Oldest first: the last one left out is the newest.
    let omitted = (0..window).rev().find(|i| !is_kept(i)).map(|i| received[i].occurred_at);
    let kept = received.iter().enumerate().filter(|(i, _)| is_kept(i)).map(|(_, e)| e.bounded()).collect();
    (kept, omitted)
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

    fn shipment() -> ShipmentId {
        ShipmentId::parse("S1").unwrap()
    }

    thread_local! {
        /// How many times this thread built a checkpoint's order key (two per comparison).
        static ORDER_KEYS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    pub(super) fn count_order_key() {
        ORDER_KEYS.with(|n| n.set(n.get() + 1));
    }

    fn order_keys_built(f: impl FnOnce()) -> u64 {
        let before = ORDER_KEYS.with(std::cell::Cell::get);
        f();
        ORDER_KEYS.with(std::cell::Cell::get) - before
    }

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
            tracking_number: crate::domain::ids::TrackingNumber::parse("1Z999AA10123456784").unwrap(),
            carrier: Some("FedEx".into()),
            events: events.to_vec(),
            estimated_delivery: None,
            public_url: None,
            provider_reference: None,
        }
    }

    /// What the carrier webhook does with each delivery: merge, then say what the notification
    /// policy calls for (each group arriving a minute after its newest scan, never before the
    /// previous one), its email recorded as told.
    fn deliver(groups: &[Vec<TrackingEvent>]) -> (ShipmentTracking, Vec<(String, DateTime<Utc>)>) {
        use crate::domain::messages::{Channel, DeliveryState};
        use crate::domain::notification::{Decision, NotificationSettings, Told, decide};
        let mut state = ShipmentTracking::default();
        let mut sent = Vec::new();
        let mut records: Vec<MessageRecord> = Vec::new();
        let mut now = DateTime::<Utc>::MIN_UTC;
        for group in groups {
            let next = state.merge(&update(group));
            now = now.max(group.iter().map(|e| e.occurred_at).max().unwrap_or(now) + chrono::Duration::minutes(1));
            let told = Told::recall(&shipment(), &records, &records);
            if let Decision::Announce { notice, .. } =
                decide(&next, &shipment(), &told, now, &NotificationSettings::default())
            {
                sent.push((notice.to_string(), next.status_at.unwrap()));
                let record = MessageRecord::claimed(&notice.on(Channel::Email), now);
                records.push(MessageRecord { state: DeliveryState::Sent, ..record });
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
    fn one_event_at_a_time_announces_each_milestone_once_and_the_new_attempt_after_a_failed_one() {
        let singles: Vec<_> = multi_attempt_history().into_iter().map(|e| vec![e]).collect();
        let (state, sent) = deliver(&singles);
        assert_eq!(state.status, Some(TrackingStatus::Delivered));
        assert_eq!(
            keys(&sent),
            ["shipped#S1", "out_for_delivery#S1", "delivery_attempted#S1", "out_for_delivery#S1#again", "delivered#S1",]
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
        assert_eq!(keys(&sent), ["out_for_delivery#S1"]);
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
    fn quiet_notes_are_kept_once_each_newest_last_and_bounded() {
        use TrackingStatus::*;
        let mut state = ShipmentTracking::default();
        state.note_quiet("no state yet");
        assert!(state.quiet.is_empty(), "a note needs a state");
        for hour in 0..30 {
            let next = state.merge(&update(&[event(InTransit, at(24, hour % 24, hour / 24), "in_transit")]));
            state = next;
            state.note_quiet("already told: shipped#S1");
            state.note_quiet("already told: shipped#S1");
        }
        assert_eq!(state.quiet.len(), MAX_QUIET_NOTES);
        assert_eq!(state.quiet.last().unwrap().at, state.status_at.unwrap());
        assert!(state.quiet.windows(2).all(|w| w[0] != w[1]));
        let merged = state.merge(&update(&[event(OutForDelivery, at(25, 9, 0), "ofd")]));
        assert_eq!(merged.quiet, state.quiet, "merging keeps the notes");
        assert!(merged.same_journey(&merged.clone()));
    }

    #[test]
    fn duplicates_are_kept_once_and_the_timeline_is_newest_first() {
        let history = multi_attempt_history();
        let (state, _) = deliver(&[history.clone(), history.clone(), history[..3].to_vec()]);
        assert_eq!(state.checkpoints.len(), history.len());
        assert_eq!(state.timeline().next().unwrap().status, TrackingStatus::Delivered);
    }

    /// The carrier webhook's delay decisions: each update merged, what was sent recalled from the
    /// records of the notices (as `journey` reads them), a notice decided for the shop's local
    /// day, and its record written as `Outbox::send` writes it.
    struct DelayReplay {
        state: ShipmentTracking,
        records: Vec<MessageRecord>,
        promised: Option<NaiveDate>,
    }

    impl DelayReplay {
        fn new(promised: NaiveDate) -> Self {
            Self { state: ShipmentTracking::default(), records: Vec::new(), promised: Some(promised) }
        }

        /// An update seen at `now` with a scan at `scan` and the carrier's `estimate`; the key of
        /// the notice it sends, if any.
        fn update(&mut self, now: DateTime<Utc>, scan: DateTime<Utc>, estimate: NaiveDate) -> Option<String> {
            let tz = chrono_tz::America::New_York;
            let mut u = update(&[event(TrackingStatus::InTransit, scan, "in_transit")]);
            u.estimated_delivery = Some(estimate);
            let mut next = self.state.merge(&u);
            next.recall(&shipment(), tz, &self.records);
            let notice = next.delay_announcement(&shipment(), self.promised, now.with_timezone(&tz).date_naive());
            if let Some(notice) = &notice {
                let key = notice.on(crate::domain::messages::Channel::Email);
                self.records.push(MessageRecord {
                    state: crate::domain::messages::DeliveryState::Sent,
                    estimated_delivery: next.estimated_delivery,
                    ..MessageRecord::claimed(&key, now)
                });
            }
            self.state = next;
            notice.map(|n| n.to_string())
        }
    }

    fn day(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    #[test]
    fn a_delay_is_announced_once_and_again_only_when_it_slips_further() {
        let mut replay = DelayReplay::new(day(11, 27));
        // Each update is seen on a later day, so only the estimate rule is at work.
        let mut seen = |d: u32, scan: DateTime<Utc>, estimate| replay.update(at(d, 15, 0), scan, estimate);
        assert_eq!(seen(23, at(23, 1, 0), day(11, 27)), None, "as promised");
        assert_eq!(seen(24, at(24, 1, 0), day(11, 30)).as_deref(), Some("delayed#S1#delay-1"));
        assert_eq!(seen(25, at(25, 1, 0), day(11, 30)), None, "the same late date again is not news");
        // An older update's estimate does not replace a newer one.
        assert_eq!(seen(26, at(23, 12, 0), day(12, 5)), None);
        assert_eq!(seen(27, at(26, 1, 0), day(11, 28)), None, "earlier again is not news");
        assert_eq!(seen(28, at(26, 2, 0), day(11, 30)), None, "back to the announced date is not news");
        assert_eq!(seen(29, at(27, 1, 0), day(12, 1)).as_deref(), Some("delayed#S1#delay-2"));
        // Delivered: no more delay messages.
        let delivered = replay.state.merge(&update(&[event(TrackingStatus::Delivered, at(27, 9, 0), "delivered")]));
        assert_eq!(delivered.delay_announcement(&shipment(), replay.promised, day(12, 30)), None);
    }

    #[test]
    fn a_slipping_estimate_is_announced_once_a_day_and_at_most_max_delay_notices_times() {
        let mut replay = DelayReplay::new(day(11, 27));
        // Eight slips within a minute (late evening in New York: 23:59 on the 23rd, local).
        let first = at(24, 4, 59);
        let sent: Vec<_> = (0..8)
            .filter_map(|i| {
                let now = first + chrono::Duration::seconds(i * 7);
                replay.update(now, now, day(11, 28) + chrono::Duration::days(i))
            })
            .collect();
        assert_eq!(sent, ["delayed#S1#delay-1"]);
        // The next local day, a further slip is news; the same day, not again.
        assert_eq!(replay.update(at(24, 6, 0), at(24, 6, 0), day(12, 6)).as_deref(), Some("delayed#S1#delay-2"));
        assert_eq!(replay.update(at(24, 20, 0), at(24, 20, 0), day(12, 7)), None);
        assert_eq!(replay.update(at(25, 12, 0), at(25, 12, 0), day(12, 8)).as_deref(), Some("delayed#S1#delay-3"));
        // The cap: however far and long it slips, no more.
        for d in 26..30 {
            assert_eq!(replay.update(at(d, 12, 0), at(d, 12, 0), day(12, d - 16)), None, "day {d}");
        }
        assert_eq!(replay.records.len() as u32, MAX_DELAY_NOTICES);
    }

    #[test]
    fn delay_notices_sent_before_they_were_numbered_are_recalled_by_their_date() {
        let mut state = ShipmentTracking::default();
        let mut u = update(&[event(TrackingStatus::InTransit, at(24, 1, 0), "in_transit")]);
        u.estimated_delivery = Some(day(11, 30));
        state = state.merge(&u);
        let legacy_scope = MessageScope::parse(MessageKind::Delayed, "S1#2026-11-30").unwrap();
        let key = crate::domain::messages::MessageKey::new(
            MessageKind::Delayed,
            legacy_scope,
            crate::domain::messages::Channel::Email,
        );
        let legacy = MessageRecord {
            state: crate::domain::messages::DeliveryState::Sent,
            ..MessageRecord::claimed(&key, at(23, 12, 0))
        };
        state.recall(&shipment(), chrono_tz::America::New_York, [&legacy]);
        assert_eq!(
            state.delays,
            DelayNotices { sent: 1, latest_estimate: Some(day(11, 30)), last_day: Some(day(11, 23)) }
        );
        assert_eq!(state.delay_announcement(&shipment(), Some(day(11, 27)), day(11, 24)), None, "already announced");
        u.estimated_delivery = Some(day(12, 1));
        u.events[0].occurred_at = at(24, 2, 0);
        let mut later = state.merge(&u);
        later.recall(&shipment(), chrono_tz::America::New_York, [&legacy]);
        let notice = later.delay_announcement(&shipment(), Some(day(11, 27)), day(11, 24)).unwrap();
        assert_eq!(notice.to_string(), "delayed#S1#delay-2");
    }

    /// `count` distinct scans a minute apart from `start`.
    fn long_history(count: usize, start: DateTime<Utc>) -> Vec<TrackingEvent> {
        (0..count)
            .map(|i| {
                let status = if i % 5 == 4 { TrackingStatus::Unknown } else { TrackingStatus::InTransit };
                event(status, start + chrono::Duration::minutes(i as i64), "in_transit/arrived_at_facility")
            })
            .collect()
    }

    #[test]
    fn merging_compares_checkpoints_n_log_n_times() {
        // The cost of a merge is its comparisons: an O(n log n) merge of n checkpoints builds a
        // few n log2 n order keys (two per comparison); a scan per checkpoint builds n^2.
        let n = 4_000;
        let big = update(&long_history(n, at(1, 0, 0)));
        let bound = 6 * n as u64 * u64::from(n.ilog2() + 1);
        let mut state = ShipmentTracking::default();
        let into_empty = order_keys_built(|| state = ShipmentTracking::default().merge(&big));
        assert!(into_empty <= bound, "{into_empty} order keys for {n} new checkpoints (bound {bound})");
        let into_known = order_keys_built(|| drop(state.merge(&big)));
        assert!(into_known <= bound, "{into_known} order keys for {n} known checkpoints (bound {bound})");
    }

    #[test]
    fn a_shipment_keeps_the_newest_checkpoints_and_notes_what_it_left_out() {
        let history = long_history(MAX_CHECKPOINTS + 100, at(1, 0, 0));
        let state = ShipmentTracking::default().merge(&update(&history));
        assert_eq!(state.checkpoints.len(), MAX_CHECKPOINTS);
        assert_eq!(state.checkpoints[..], history[100..]);
        assert_eq!(state.omitted_until, Some(history[99].occurred_at));
        // Sent again, alone or with the old scans: the same state.
        assert!(state.merge(&update(&history)).same_journey(&state));
        assert!(state.merge(&update(&history[..10])).same_journey(&state));
        // A short history leaves nothing out.
        assert_eq!(ShipmentTracking::default().merge(&update(&history[..10])).omitted_until, None);
    }

    #[test]
    fn the_cap_never_loses_a_delivery_a_return_or_the_last_scans() {
        use TrackingStatus::*;
        let cap = 3;
        let whole = |events: &[TrackingEvent]| ShipmentTracking::default().merge_keeping(&update(events), usize::MAX);
        let capped = |events: &[TrackingEvent]| ShipmentTracking::default().merge_keeping(&update(events), cap);
        let unknowns = |from: u32| (0..5).map(|i| event(Unknown, at(26, from + i, 0), "unknown")).collect::<Vec<_>>();
        // Delivered, then stray scans beyond the cap: still delivered, no earlier than the last scan.
        let mut delivered = multi_attempt_history();
        delivered.push(event(InTransit, at(27, 9, 0), "stray scan"));
        delivered.extend(unknowns(10));
        // Out for delivery, a failure, then only details that say nothing: an attempt.
        let mut attempted = multi_attempt_history()[..5].to_vec();
        attempted.extend(unknowns(10));
        // Returned to sender long ago, then more scans.
        let mut returned =
            vec![event(Delivered, at(23, 1, 0), "delivered"), event(ReturnedToSender, at(23, 9, 0), "rts")];
        returned.extend(long_history(6, at(24, 0, 0)));
        for history in [delivered, attempted, returned] {
            let (whole, capped) = (whole(&history), capped(&history));
            assert!(capped.checkpoints.len() <= cap + MAX_ANCHORS);
            assert!(capped.omitted_until.is_some());
            assert_eq!(
                (capped.status, capped.status_at, capped.delivered_at),
                (whole.status, whole.status_at, whole.delivered_at),
                "{history:?}"
            );
        }
    }

    #[test]
    fn carrier_texts_are_cut_on_a_character_boundary() {
        let mut long = event(TrackingStatus::InTransit, at(23, 1, 0), &"s".repeat(500));
        long.message = Some("é".repeat(MESSAGE_MAX_BYTES));
        long.location = Some(format!("x{}", "🚚".repeat(LOCATION_MAX_BYTES)));
        let mut u = update(&[long]);
        u.carrier = Some("Ü".repeat(CARRIER_MAX_BYTES));
        u.public_url = Some(format!("https://carrier.example/{}", "t".repeat(PUBLIC_URL_MAX_BYTES)));
        let state = ShipmentTracking::default().merge(&u);
        let kept = &state.checkpoints[0];
        assert_eq!(kept.provider_status.len(), PROVIDER_STATUS_MAX_BYTES);
        assert_eq!(kept.message.as_deref(), Some("é".repeat(MESSAGE_MAX_BYTES / 2).as_str()));
        // 1 + 37 four-byte trucks = 149 bytes: the 38th would pass 150.
        assert_eq!(kept.location.as_deref(), Some(format!("x{}", "🚚".repeat(37)).as_str()));
        assert_eq!(state.carrier.as_deref().map(str::len), Some(CARRIER_MAX_BYTES));
        assert_eq!(state.public_url, None, "a cut link would be wrong");
    }

    #[test]
    fn a_capped_state_of_maximal_checkpoints_stays_well_under_400_kb() {
        use TrackingStatus::*;
        // Every text at its bound in four-byte characters (what DynamoDB counts is UTF-8 bytes;
        // JSON adds quotes and commas, so its size is above the item's), and the anchors older
        // than the window: a return, a delivery and the last two scans before only details.
        let text = |bytes: usize, seed: usize| format!("{seed:04}{}", "𝄞".repeat(bytes / 4 - 1));
        let maximal = |status, i: usize| TrackingEvent {
            status,
            occurred_at: at(1, 0, 0) + chrono::Duration::minutes(i as i64),
            provider_status: text(PROVIDER_STATUS_MAX_BYTES, i),
            message: Some(text(MESSAGE_MAX_BYTES, i)),
            location: Some(text(LOCATION_MAX_BYTES, i)),
        };
        let mut events = vec![maximal(ReturnedToSender, 0), maximal(Delivered, 1)];
        events.extend([maximal(AvailableForPickup, 2), maximal(AvailableForPickup, 3)]);
        events.extend((4..MAX_CHECKPOINTS * 3).map(|i| maximal(Unknown, i)));
        let mut u = update(&events);
        u.carrier = Some(text(CARRIER_MAX_BYTES, 0));
        u.public_url = Some(format!("https://t.example/{}", "a".repeat(PUBLIC_URL_MAX_BYTES - 18)));
        u.estimated_delivery = Some(day(12, 31));
        let state = ShipmentTracking::default().merge(&u);
        assert_eq!(state.checkpoints.len(), MAX_CHECKPOINTS + MAX_ANCHORS);
        assert!(state.public_url.is_some());
        let kept = &state.checkpoints[0];
        assert_eq!(kept.message.as_ref().map(String::len), Some(MESSAGE_MAX_BYTES));
        let size = serde_json::to_vec(&state).unwrap().len();
        println!("worst-case tracking state: {size} bytes");
        assert!(size < 210 * 1000, "{size} bytes: the worst case in the comment on MAX_CHECKPOINTS is wrong");
    }

    #[test]
    fn an_update_has_a_bounded_number_of_digests() {
        let history = long_history(3 * MAX_CHECKPOINTS, at(1, 0, 0));
        let mut u = update(&history);
        u.estimated_delivery = Some(day(12, 1));
        // The kept checkpoints, the newest left out, the estimate and the carrier.
        assert_eq!(u.digests().len(), MAX_CHECKPOINTS + 3);
        // A short update's digests are one per checkpoint, as before the cap.
        assert_eq!(update(&history[..10]).digests().len(), 10 + 1);
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

    /// The same deliveries, keeping only `cap` checkpoints (and the anchors): the state equals
    /// the one of the whole history merged at once with the same cap, and its status that of
    /// the whole history kept.
    fn check_capped_delivery(
        history: Vec<TrackingEvent>,
        groups: &[Vec<TrackingEvent>],
        cap: usize,
    ) -> Result<(), TestCaseError> {
        let merge_all = |cap| ShipmentTracking::default().merge_keeping(&update(&history), cap);
        let (reference, whole) = (merge_all(cap), merge_all(usize::MAX));
        let state =
            groups.iter().fold(ShipmentTracking::default(), |state, group| state.merge_keeping(&update(group), cap));
        prop_assert!(state.same_journey(&reference), "{:?}\n!=\n{:?}", state, reference);
        prop_assert!(state.checkpoints.len() <= cap + MAX_ANCHORS);
        prop_assert_eq!(
            (state.status, state.status_at, state.delivered_at),
            (whole.status, whole.status_at, whole.delivered_at)
        );
        Ok(())
    }

    proptest! {
        /// Keeping the newest few of everything received converges too, whatever the order,
        /// duplication and grouping, and never changes the status.
        #[test]
        fn a_capped_history_converges_in_any_order_duplication_or_grouping(groups in deliveries(multi_attempt_history()), cap in 1usize..6) {
            check_capped_delivery(multi_attempt_history(), &groups, cap)?;
        }

        #[test]
        fn a_capped_labelled_history_converges_in_any_order_duplication_or_grouping(groups in deliveries(labelled_history()), cap in 1usize..6) {
            check_capped_delivery(labelled_history(), &groups, cap)?;
        }

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
