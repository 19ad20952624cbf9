//! The promised delivery date: processing plus transit business days in the shop's time zone.

use chrono::{DateTime, Datelike, Days, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverySettings {
    /// Business days between order and hand-over to the carrier.
    pub processing_days: u32,
    /// Orders placed at or after this local hour start processing the next business day.
    pub cutoff_hour: u32,
    /// Transit business days when no method rule matches.
    pub default_transit_days: u32,
    /// First match wins; matched case-insensitively against the order's shipping method.
    #[serde(default)]
    pub methods: Vec<ShippingMethodRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethodRule {
    /// A substring of the shipping method's name, e.g. `express`.
    pub contains: String,
    pub transit_days: u32,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { processing_days: 1, cutoff_hour: 14, default_transit_days: 5, methods: Vec::new() }
    }
}

impl DeliverySettings {
    pub fn transit_days(&self, shipping_method: Option<&str>) -> u32 {
        let Some(method) = shipping_method.map(str::to_lowercase) else {
            return self.default_transit_days;
        };
        self.methods
            .iter()
            .find(|rule| method.contains(&rule.contains.to_lowercase()))
            .map_or(self.default_transit_days, |rule| rule.transit_days)
    }

    /// The date promised to the customer for an order placed at `placed_at`.
    pub fn promised_date(&self, placed_at: DateTime<Utc>, time_zone: Tz, shipping_method: Option<&str>) -> NaiveDate {
        let business_days = self.processing_days + self.transit_days(shipping_method);
        add_business_days(self.first_work_day(placed_at, time_zone), business_days)
    }

    /// The local date the order must leave the warehouse by: `processing_days` business days
    /// after the first work day (what [`Self::promised_date`] counts transit from).
    pub fn ship_by_date(&self, placed_at: DateTime<Utc>, time_zone: Tz) -> NaiveDate {
        add_business_days(self.first_work_day(placed_at, time_zone), self.processing_days)
    }

    /// Work starts on the first business day at or after the order (the next one past the cutoff).
    fn first_work_day(&self, placed_at: DateTime<Utc>, time_zone: Tz) -> NaiveDate {
        let local = placed_at.with_timezone(&time_zone);
        let mut day = local.date_naive();
        if local.hour() >= self.cutoff_hour {
            day = next_day(day);
        }
        roll_to_business_day(day)
    }
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap_or(day)
}

fn roll_to_business_day(mut day: NaiveDate) -> NaiveDate {
    while is_weekend(day) {
        day = next_day(day);
    }
    day
}

pub fn add_business_days(mut day: NaiveDate, count: u32) -> NaiveDate {
    let mut remaining = count;
    while remaining > 0 {
        day = next_day(day);
        if !is_weekend(day) {
            remaining -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            processing_days: 1,
            cutoff_hour: 14,
            default_transit_days: 3,
            methods: vec![ShippingMethodRule { contains: "Express".into(), transit_days: 1 }],
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn counts_business_days_only() {
        // Monday 10:00 UTC, 1 + 3 business days -> Friday.
        let placed = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(settings().promised_date(placed, Tz::UTC, None), date(2026, 11, 27));
        // Thursday: Fri, Mon, Tue, Wed.
        let placed = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        assert_eq!(settings().promised_date(placed, Tz::UTC, None), date(2026, 12, 2));
    }

    #[test]
    fn weekend_orders_start_on_monday() {
        let saturday = Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap();
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        let expected = settings().promised_date(monday, Tz::UTC, None);
        assert_eq!(expected, date(2026, 12, 4));
        assert_eq!(settings().promised_date(saturday, Tz::UTC, None), expected);
        assert_eq!(settings().promised_date(sunday, Tz::UTC, None), expected);
    }

    #[test]
    fn cutoff_moves_start_to_next_business_day() {
        let before = Utc.with_ymd_and_hms(2026, 11, 27, 13, 59, 0).unwrap(); // Friday
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap();
        assert_eq!(settings().promised_date(before, Tz::UTC, None), date(2026, 12, 3));
        // Friday after cutoff starts Monday: Tue + 3 -> Fri.
        assert_eq!(settings().promised_date(after, Tz::UTC, None), date(2026, 12, 4));
    }

    #[test]
    fn the_shops_time_zone_decides_the_day() {
        // 03:00 UTC Saturday is still Friday 22:00 in New York (after cutoff -> Monday start).
        let placed = Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap();
        let ny = chrono_tz::America::New_York;
        assert_eq!(settings().promised_date(placed, ny, None), date(2026, 12, 4));
        // 23:30 UTC Sunday is already Monday 08:30 in Tokyo: Monday start, Friday delivery.
        let placed = Utc.with_ymd_and_hms(2026, 11, 29, 23, 30, 0).unwrap();
        assert_eq!(settings().promised_date(placed, chrono_tz::Asia::Tokyo, None), date(2026, 12, 4));
        // The same instant in UTC is Sunday: start Monday too, same date.
        assert_eq!(settings().promised_date(placed, Tz::UTC, None), date(2026, 12, 4));
        // 06:00 UTC Monday is Sunday 22:00 in Los Angeles... start Monday, same date.
        let placed = Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap();
        assert_eq!(settings().promised_date(placed, chrono_tz::America::Los_Angeles, None), date(2026, 12, 4));
        // ...but 13:00 UTC Monday in Tokyo is 22:00, after cutoff: Tuesday start.
        let placed = Utc.with_ymd_and_hms(2026, 11, 30, 13, 0, 0).unwrap();
        assert_eq!(settings().promised_date(placed, chrono_tz::Asia::Tokyo, None), date(2026, 12, 7));
    }

    #[test]
    fn shipping_method_rules_pick_transit_days() {
        let placed = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(settings().promised_date(placed, Tz::UTC, Some("UPS express saver")), date(2026, 11, 25));
        assert_eq!(settings().promised_date(placed, Tz::UTC, Some("Standard")), date(2026, 11, 27));
    }

    #[test]
    fn zero_days_never_lands_on_a_weekend() {
        let zero = DeliverySettings { processing_days: 0, cutoff_hour: 24, default_transit_days: 0, methods: vec![] };
        let saturday = Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
        assert_eq!(zero.promised_date(saturday, Tz::UTC, None), date(2026, 11, 30));
    }
}
