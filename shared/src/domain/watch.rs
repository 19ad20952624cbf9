//! Watching parcels between scans: when the scheduled sweep must look at a shipment again, and
//! what it finds then. A shipment whose tracking number never gets a carrier scan is the shop's
//! problem (a wrong number, a tracker never registered): the shop hears of it. A parcel in transit
//! that goes quiet for days is the customer's worry: they hear, once per stall, that the shop is
//! looking into it, before they have to ask; the shop hears too.
//!
//! The time to look again is written with the shipment (never scanned yet) or with its tracking
//! state (after each scan), so watching costs no request on the webhook paths; the sweep reads
//! the due ones by time.

use crate::domain::delivery::{DeliverySettings, add_business_days};
use crate::domain::messages::MessageKind;
use crate::domain::names::wire_enum;
use crate::domain::situation::{Situation, situation};
use crate::domain::tracking::{ShipmentTracking, TrackingStatus};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

wire_enum! {
    /// What the sweep checks when a shipment's time comes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    pub enum Watch {
        /// Its tracking number has had a first carrier scan.
        FirstScan = "first_scan",
        /// The parcel, on its way, has had a scan since the last one.
        NextScan = "next_scan",
        /// The order has shipped by the end of its ship-by date.
        ShipBy = "ship_by",
        /// A parcel text held back by quiet hours (`domain::quiet_hours`) is due.
        Text = "text",
    }
}

/// The shop's choices for watching (part of `notifications` in its settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// A shipment whose tracking number has had no scan this many days after the fulfillment
    /// is reported to the shop (0: never).
    pub untracked_after_days: u32,
    /// A parcel on its way with no scan for this many business days (in the shop's time zone)
    /// is stalled (0: never).
    pub stalled_after_business_days: u32,
    /// Stall notices to the customer per shipment; later stalls are reported to the shop only.
    pub max_stall_notices: u32,
    /// An order not shipped by its ship-by date (processing days after the order, cut-off
    /// respected) is told to the customer, once, and to the shop.
    pub not_shipped_notice: bool,
}

/// When a new shipment must have had its first scan: `untracked_after_days` after the
/// fulfillment; never without a tracking number.
pub fn first_scan_due(
    fulfilled_at: DateTime<Utc>,
    has_tracking_number: bool,
    settings: &WatchSettings,
) -> Option<DateTime<Utc>> {
    (has_tracking_number && settings.untracked_after_days > 0)
        .then(|| fulfilled_at + Duration::days(settings.untracked_after_days.into()))
}

/// When a parcel must have had its next scan: `stalled_after_business_days` after its newest one,
/// at the same local time. Never once the journey ended or waits on the customer (delivered,
/// returned, ready for pickup, refused, lost), nor before the carrier has the parcel (a label).
pub fn next_scan_due(tracking: &ShipmentTracking, settings: &WatchSettings, time_zone: Tz) -> Option<DateTime<Utc>> {
    if settings.stalled_after_business_days == 0 || !is_on_its_way(tracking) {
        return None;
    }
    let newest = last_scan(tracking)?;
    let local = newest.with_timezone(&time_zone);
    let day = add_business_days(local.date_naive(), settings.stalled_after_business_days);
    // A time a clock change skipped falls back to whole days.
    let due = time_zone.from_local_datetime(&day.and_time(local.time())).earliest();
    Some(due.map_or_else(|| newest + Duration::days(settings.stalled_after_business_days.into()), |d| d.to_utc()))
}

/// The carrier time of the newest scan.
fn last_scan(tracking: &ShipmentTracking) -> Option<DateTime<Utc>> {
    tracking.checkpoints.last().map(|c| c.occurred_at).or(tracking.status_at)
}

fn is_on_its_way(tracking: &ShipmentTracking) -> bool {
    use TrackingStatus::*;
    match tracking.status {
        Some(InTransit | OutForDelivery | DeliveryAttempted) => true,
        // A problem may stall; a known end (refused, lost, going back) is told as it is.
        Some(Exception) => !tracking.checkpoints.last().map(situation).is_some_and(|s| {
            matches!(s, Situation::Refused | Situation::Lost | Situation::ReturningToSender | Situation::HeldForPickup)
        }),
        Some(LabelCreated | AvailableForPickup | Delivered | ReturnedToSender | Unknown) | None => false,
    }
}

/// When an order must have shipped: the end of its ship-by date in the shop's time zone (the
/// start of the next day). Never when the shop turned the notice off.
pub fn ship_by_due(
    placed_at: DateTime<Utc>,
    delivery: &DeliverySettings,
    settings: &WatchSettings,
    time_zone: Tz,
) -> Option<DateTime<Utc>> {
    if !settings.not_shipped_notice {
        return None;
    }
    let day = delivery.ship_by_date(placed_at, time_zone).succ_opt()?;
    let midnight = time_zone.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).earliest();
    Some(midnight.map_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc(), |m| m.to_utc()))
}

/// What an order's ship-by watch finds: shipped (or cancelled) is fine; else late, once its
/// time came.
pub fn examine_order(
    placed_at: DateTime<Utc>,
    settled: bool,
    now: DateTime<Utc>,
    delivery: &DeliverySettings,
    settings: &WatchSettings,
    time_zone: Tz,
) -> Finding {
    match ship_by_due(placed_at, delivery, settings, time_zone) {
        _ if settled => Finding::Fine,
        None => Finding::Fine,
        Some(due) if due > now => Finding::NotYet(due),
        Some(_) => Finding::NotShipped { by: delivery.ship_by_date(placed_at, time_zone) },
    }
}

/// Whether a parcel text held back by quiet hours still says what is true in the morning: the
/// parcel is still where the text says (out for delivery, missed, waiting at a pickup point);
/// delivered is true for good; what the customer must act on, until the journey ends. A later
/// state has its own message.
pub fn text_still_true(kind: MessageKind, tracking: &ShipmentTracking) -> bool {
    use TrackingStatus::*;
    let status = tracking.status;
    match kind {
        MessageKind::Delivered => status == Some(Delivered),
        MessageKind::OutForDelivery => status == Some(OutForDelivery),
        MessageKind::DeliveryAttempted => status == Some(DeliveryAttempted),
        MessageKind::AvailableForPickup => status == Some(AvailableForPickup),
        MessageKind::ActionNeeded => matches!(status, Some(Exception | DeliveryAttempted | InTransit)),
        _ => !matches!(status, Some(Delivered | ReturnedToSender)),
    }
}

/// What the sweep found when a shipment's time came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Nothing to say: scanned, delivered, or no longer watched.
    Fine,
    /// Not due yet after all (a scan moved the time; the index is read eventually consistent).
    NotYet(DateTime<Utc>),
    /// No scan ever, since the fulfillment.
    Untracked,
    /// No scan since `since` (the newest one), for the shop's number of business days.
    Stalled { since: DateTime<Utc> },
    /// The order did not ship by its ship-by date `by`.
    NotShipped { by: chrono::NaiveDate },
}

/// What a shipment's state says now about `watch`. `fulfilled` is when the shipment was
/// fulfilled with a tracking number (none without one); `tracking` is its stored state, if any.
pub fn examine(
    watch: Watch,
    fulfilled: Option<DateTime<Utc>>,
    tracking: Option<&ShipmentTracking>,
    now: DateTime<Utc>,
    settings: &WatchSettings,
    time_zone: Tz,
) -> Finding {
    let scanned = tracking.is_some_and(|t| !t.checkpoints.is_empty() || t.status.is_some());
    let due = match watch {
        // An order's watch is examined with the order (`examine_order`), a text by `text_still_true`.
        Watch::ShipBy | Watch::Text => None,
        Watch::FirstScan => fulfilled.and_then(|at| first_scan_due(at, true, settings)),
        Watch::NextScan => tracking.and_then(|t| next_scan_due(t, settings, time_zone)),
    };
    match due {
        None => Finding::Fine,
        Some(due) if due > now => Finding::NotYet(due),
        Some(_) if watch == Watch::FirstScan && scanned => Finding::Fine,
        Some(_) if watch == Watch::FirstScan => Finding::Untracked,
        Some(_) => tracking.and_then(last_scan).map_or(Finding::Fine, |since| Finding::Stalled { since }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tracking::TrackingEvent;

    const SETTINGS: WatchSettings = WatchSettings {
        untracked_after_days: 3,
        stalled_after_business_days: 3,
        max_stall_notices: 2,
        not_shipped_notice: true,
    };
    const NEW_YORK: Tz = chrono_tz::America::New_York;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        // December 2026: the 4th is a Friday.
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn tracking(events: &[(TrackingStatus, DateTime<Utc>, &str)]) -> ShipmentTracking {
        let checkpoints: Vec<TrackingEvent> = events
            .iter()
            .map(|(status, at, text)| TrackingEvent {
                status: *status,
                occurred_at: *at,
                provider_status: status.as_str().into(),
                message: Some((*text).into()),
                location: None,
            })
            .collect();
        ShipmentTracking {
            status: events.last().map(|e| e.0),
            status_at: events.last().map(|e| e.1),
            checkpoints,
            ..ShipmentTracking::default()
        }
    }

    #[test]
    fn a_tracking_number_is_watched_for_its_first_scan_for_the_shops_days() {
        assert_eq!(first_scan_due(at(1, 15), true, &SETTINGS), Some(at(4, 15)));
        assert_eq!(first_scan_due(at(1, 15), false, &SETTINGS), None, "nothing to watch without a number");
        let off = WatchSettings { untracked_after_days: 0, ..SETTINGS };
        assert_eq!(first_scan_due(at(1, 15), true, &off), None);
    }

    #[test]
    fn a_parcel_on_its_way_is_due_a_scan_within_business_days_in_the_shops_time_zone() {
        use TrackingStatus::*;
        // Friday 10:00 in New York (15:00 UTC): three business days on is Wednesday 10:00.
        let friday = tracking(&[(InTransit, at(4, 15), "Departed FedEx hub")]);
        assert_eq!(next_scan_due(&friday, &SETTINGS, NEW_YORK), Some(at(9, 15)));
        // Friday 22:00 in New York is Saturday in UTC: the shop's calendar counts.
        let late = tracking(&[(InTransit, at(5, 3), "Arrived at FedEx location")]);
        assert_eq!(next_scan_due(&late, &SETTINGS, NEW_YORK), Some(at(10, 3)));
        // Tuesday 8 December, 12:00 UTC: Friday.
        let tuesday = tracking(&[(OutForDelivery, at(8, 12), "On FedEx vehicle for delivery")]);
        assert_eq!(next_scan_due(&tuesday, &SETTINGS, chrono_tz::UTC), Some(at(11, 12)));
    }

    #[test]
    fn only_a_parcel_the_carrier_has_and_has_not_finished_with_is_watched() {
        use TrackingStatus::*;
        let cases = [
            (LabelCreated, "Shipment information sent to FedEx", false),
            (InTransit, "In transit", true),
            (DeliveryAttempted, "Customer not available or business closed", true),
            (Exception, "Delay due to weather", true),
            (Exception, "Refused by recipient", false),
            (Exception, "Package lost", false),
            (AvailableForPickup, "Ready for pickup", false),
            (Delivered, "Delivered", false),
            (ReturnedToSender, "Returned to shipper", false),
        ];
        for (status, text, watched) in cases {
            let state = tracking(&[(status, at(4, 15), text)]);
            assert_eq!(next_scan_due(&state, &SETTINGS, NEW_YORK).is_some(), watched, "{status:?} {text}");
        }
        let off = WatchSettings { stalled_after_business_days: 0, ..SETTINGS };
        assert_eq!(next_scan_due(&tracking(&[(InTransit, at(4, 15), "In transit")]), &off, NEW_YORK), None);
    }

    #[test]
    fn the_sweep_finds_a_stall_only_when_no_scan_came_in_time() {
        use TrackingStatus::*;
        let stalled = tracking(&[(LabelCreated, at(3, 15), "Label"), (InTransit, at(4, 15), "Departed")]);
        let examined =
            |watch, tracking: Option<&ShipmentTracking>, now| examine(watch, None, tracking, now, &SETTINGS, NEW_YORK);
        assert_eq!(examined(Watch::NextScan, Some(&stalled), at(9, 16)), Finding::Stalled { since: at(4, 15) });
        assert_eq!(examined(Watch::NextScan, Some(&stalled), at(9, 14)), Finding::NotYet(at(9, 15)));
        let moved_on = tracking(&[(InTransit, at(4, 15), "Departed"), (InTransit, at(8, 15), "Arrived")]);
        assert_eq!(examined(Watch::NextScan, Some(&moved_on), at(9, 16)), Finding::NotYet(at(11, 15)));
        let delivered = tracking(&[(InTransit, at(4, 15), "Departed"), (Delivered, at(5, 15), "Delivered")]);
        assert_eq!(examined(Watch::NextScan, Some(&delivered), at(9, 16)), Finding::Fine);
        assert_eq!(examined(Watch::NextScan, None, at(9, 16)), Finding::Fine);
    }

    #[test]
    fn a_tracking_number_without_any_scan_is_untracked_and_any_scan_clears_it() {
        use TrackingStatus::*;
        let examined = |tracking: Option<&ShipmentTracking>| {
            examine(Watch::FirstScan, Some(at(1, 0)), tracking, at(9, 0), &SETTINGS, NEW_YORK)
        };
        assert_eq!(examined(None), Finding::Untracked);
        assert_eq!(examined(Some(&ShipmentTracking::default())), Finding::Untracked);
        assert_eq!(examined(Some(&tracking(&[(LabelCreated, at(3, 15), "Label")]))), Finding::Fine);
    }

    #[test]
    fn an_order_must_ship_by_the_end_of_its_processing_days_in_the_shops_time_zone() {
        let delivery =
            DeliverySettings { processing_days: 1, cutoff_hour: 14, default_transit_days: 3, methods: vec![] };
        // Friday 4 December, 10:00 in New York: work starts Friday, one business day: Monday 7,
        // so late from Tuesday 00:00 New York (05:00 UTC).
        let placed = at(4, 15);
        assert_eq!(ship_by_due(placed, &delivery, &SETTINGS, NEW_YORK), Some(at(8, 5)));
        let examined = |settled, now| examine_order(placed, settled, now, &delivery, &SETTINGS, NEW_YORK);
        assert_eq!(examined(false, at(8, 4)), Finding::NotYet(at(8, 5)));
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(examined(false, at(8, 5)), Finding::NotShipped { by: monday });
        assert_eq!(examined(true, at(9, 0)), Finding::Fine, "shipped or cancelled");
        // Past the 14:00 cut-off, work starts the next business day: Monday, so Tuesday.
        assert_eq!(ship_by_due(at(4, 20), &delivery, &SETTINGS, NEW_YORK), Some(at(9, 5)));
        let off = WatchSettings { not_shipped_notice: false, ..SETTINGS };
        assert_eq!(ship_by_due(placed, &delivery, &off, NEW_YORK), None);
    }

    #[test]
    fn a_deferred_text_goes_in_the_morning_only_if_it_is_still_true() {
        use MessageKind as K;
        use TrackingStatus::*;
        let now = |status| tracking(&[(status, at(7, 3), "scan")]);
        let cases = [
            (K::OutForDelivery, OutForDelivery, true),
            (K::OutForDelivery, Delivered, false),
            (K::DeliveryAttempted, DeliveryAttempted, true),
            (K::DeliveryAttempted, OutForDelivery, false),
            (K::AvailableForPickup, AvailableForPickup, true),
            (K::AvailableForPickup, Delivered, false),
            (K::ActionNeeded, Exception, true),
            (K::ActionNeeded, Delivered, false),
            (K::Delivered, Delivered, true),
        ];
        for (kind, status, goes) in cases {
            assert_eq!(text_still_true(kind, &now(status)), goes, "{kind:?} when {status:?}");
        }
    }
}
