//! Quiet hours for texts: no parcel text reaches a customer at night in their own time zone. A
//! text that falls in them is deferred to their end (the scheduled sweep sends it then, once,
//! if it is still true), never dropped. The recipient's time zone comes from the shipping
//! address (country, then region for the countries that span several zones), else the shop's.

use crate::domain::messages::Notice;
use crate::domain::order::ShippingAddress;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The shop's quiet hours, in the recipient's local time: from `start` to `end` (o'clock),
/// across midnight when `start > end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u32,
    pub end: u32,
}

impl QuietHours {
    /// When the quiet hours around `now` end, in `time_zone`; `None` when `now` is not in them.
    pub fn until(&self, now: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
        if self.start == self.end {
            return None;
        }
        let local = now.with_timezone(&time_zone);
        let hour = local.hour();
        let quiet = match self.start < self.end {
            true => (self.start..self.end).contains(&hour),
            false => hour >= self.start || hour < self.end,
        };
        if !quiet {
            return None;
        }
        // The end is today if it is still ahead, else tomorrow.
        let mut day = local.date_naive();
        if hour >= self.end {
            day = day.succ_opt()?;
        }
        let end = NaiveTime::from_hms_opt(self.end, 0, 0)?;
        // A clock change at that hour: the first valid instant after it.
        let at = (0..3)
            .find_map(|extra| time_zone.from_local_datetime(&(day.and_time(end) + Duration::hours(extra))).earliest());
        at.map(|at| at.to_utc())
    }
}

/// A parcel text held back by quiet hours, sent by the sweep at `until` if still true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredText {
    pub notice: Notice,
    pub until: DateTime<Utc>,
}

/// The recipient's time zone: from the shipping address when the country has one zone, or the
/// region tells which; else `fallback` (the shop's).
pub fn recipient_time_zone(address: Option<&ShippingAddress>, fallback: Tz) -> Tz {
    let Some(address) = address else { return fallback };
    let country = address.country.trim().to_ascii_uppercase();
    let region = address.region.as_deref().map(|r| r.trim().to_ascii_uppercase()).unwrap_or_default();
    let name = match country.as_str() {
        "US" => us_state(&region),
        "CA" => canadian_province(&region),
        "AU" => australian_state(&region),
        "BR" => Some(brazilian_state(&region)),
        "MX" => Some(mexican_state(&region)),
        other => single_or_main(other, &region).or_else(|| one_zone(other)),
    };
    name.and_then(|n| n.parse().ok()).unwrap_or(fallback)
}

/// Countries with more than one zone whose main one serves nearly everyone, or whose outlying
/// zones (islands, far east) are only known by region.
fn single_or_main(country: &str, region: &str) -> Option<&'static str> {
    match (country, region) {
        ("ES", "CN" | "GC" | "TF") => Some("Atlantic/Canary"),
        ("PT", "20") => Some("Atlantic/Azores"),
        ("PT", "30") => Some("Atlantic/Madeira"),
        ("CL", "IP") => Some("Pacific/Easter"),
        ("EC", "W") => Some("Pacific/Galapagos"),
        // Most people of these live in the zone of the capital; a far region falls back to the shop's.
        ("RU", "" | "MOW" | "SPE" | "MOS" | "LEN") => Some("Europe/Moscow"),
        ("ID", "" | "JK" | "JB" | "JT" | "JI" | "BT" | "YO") => Some("Asia/Jakarta"),
        ("KZ", _) => Some("Asia/Almaty"),
        ("MN", _) => Some("Asia/Ulaanbaatar"),
        ("CD", _) => Some("Africa/Kinshasa"),
        ("NZ", _) => Some("Pacific/Auckland"),
        ("AR", _) => Some("America/Argentina/Buenos_Aires"),
        ("CL", _) => Some("America/Santiago"),
        ("EC", _) => Some("America/Guayaquil"),
        ("ES", _) => Some("Europe/Madrid"),
        ("PT", _) => Some("Europe/Lisbon"),
        _ => None,
    }
}

fn brazilian_state(state: &str) -> &'static str {
    match state {
        "AC" => "America/Rio_Branco",
        "AM" | "RR" | "RO" | "MT" | "MS" => "America/Manaus",
        _ => "America/Sao_Paulo",
    }
}

fn mexican_state(state: &str) -> &'static str {
    match state {
        "BC" | "BCN" => "America/Tijuana",
        "SON" | "SO" => "America/Hermosillo",
        "BCS" | "SIN" | "NAY" => "America/Mazatlan",
        "ROO" | "QR" => "America/Cancun",
        _ => "America/Mexico_City",
    }
}

fn us_state(state: &str) -> Option<&'static str> {
    Some(match state {
        "CT" | "DE" | "DC" | "FL" | "GA" | "IN" | "ME" | "MD" | "MA" | "MI" | "NH" | "NJ" | "NY" | "NC" | "OH"
        | "PA" | "RI" | "SC" | "VT" | "VA" | "WV" | "KY" => "America/New_York",
        "AL" | "AR" | "IL" | "IA" | "KS" | "LA" | "MN" | "MS" | "MO" | "NE" | "ND" | "OK" | "SD" | "TN" | "TX"
        | "WI" => "America/Chicago",
        "CO" | "ID" | "MT" | "NM" | "UT" | "WY" => "America/Denver",
        "AZ" => "America/Phoenix",
        "CA" | "NV" | "OR" | "WA" => "America/Los_Angeles",
        "AK" => "America/Anchorage",
        "HI" => "Pacific/Honolulu",
        "PR" | "VI" => "America/Puerto_Rico",
        "GU" | "MP" => "Pacific/Guam",
        "AS" => "Pacific/Pago_Pago",
        _ => return None,
    })
}

fn canadian_province(province: &str) -> Option<&'static str> {
    Some(match province {
        "BC" => "America/Vancouver",
        "AB" | "NT" => "America/Edmonton",
        "SK" => "America/Regina",
        "MB" => "America/Winnipeg",
        "ON" | "QC" | "NU" => "America/Toronto",
        "NB" | "NS" | "PE" => "America/Halifax",
        "NL" => "America/St_Johns",
        "YT" => "America/Whitehorse",
        _ => return None,
    })
}

fn australian_state(state: &str) -> Option<&'static str> {
    Some(match state {
        "NSW" | "ACT" => "Australia/Sydney",
        "VIC" => "Australia/Melbourne",
        "QLD" => "Australia/Brisbane",
        "SA" => "Australia/Adelaide",
        "WA" => "Australia/Perth",
        "TAS" => "Australia/Hobart",
        "NT" => "Australia/Darwin",
        _ => return None,
    })
}

/// Countries in one time zone (ISO 3166-1 alpha-2 → IANA).
fn one_zone(country: &str) -> Option<&'static str> {
    Some(match country {
        "GB" => "Europe/London",
        "IE" => "Europe/Dublin",
        "FR" | "MC" => "Europe/Paris",
        "DE" => "Europe/Berlin",
        "NL" => "Europe/Amsterdam",
        "BE" => "Europe/Brussels",
        "LU" => "Europe/Luxembourg",
        "CH" | "LI" => "Europe/Zurich",
        "AT" => "Europe/Vienna",
        "IT" | "SM" | "VA" => "Europe/Rome",
        "DK" => "Europe/Copenhagen",
        "SE" => "Europe/Stockholm",
        "NO" => "Europe/Oslo",
        "FI" => "Europe/Helsinki",
        "IS" => "Atlantic/Reykjavik",
        "PL" => "Europe/Warsaw",
        "CZ" => "Europe/Prague",
        "SK" => "Europe/Bratislava",
        "HU" => "Europe/Budapest",
        "SI" => "Europe/Ljubljana",
        "HR" => "Europe/Zagreb",
        "RO" => "Europe/Bucharest",
        "BG" => "Europe/Sofia",
        "GR" => "Europe/Athens",
        "CY" => "Asia/Nicosia",
        "MT" => "Europe/Malta",
        "EE" => "Europe/Tallinn",
        "LV" => "Europe/Riga",
        "LT" => "Europe/Vilnius",
        "UA" => "Europe/Kyiv",
        "TR" => "Europe/Istanbul",
        "IL" => "Asia/Jerusalem",
        "AE" => "Asia/Dubai",
        "SA" => "Asia/Riyadh",
        "QA" => "Asia/Qatar",
        "IN" => "Asia/Kolkata",
        "PK" => "Asia/Karachi",
        "SG" => "Asia/Singapore",
        "MY" => "Asia/Kuala_Lumpur",
        "TH" => "Asia/Bangkok",
        "VN" => "Asia/Ho_Chi_Minh",
        "PH" => "Asia/Manila",
        "HK" => "Asia/Hong_Kong",
        "TW" => "Asia/Taipei",
        "CN" => "Asia/Shanghai",
        "JP" => "Asia/Tokyo",
        "KR" => "Asia/Seoul",
        "ZA" => "Africa/Johannesburg",
        "NG" => "Africa/Lagos",
        "KE" => "Africa/Nairobi",
        "EG" => "Africa/Cairo",
        "MA" => "Africa/Casablanca",
        "CO" => "America/Bogota",
        "PE" => "America/Lima",
        "UY" => "America/Montevideo",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIGHT: QuietHours = QuietHours { start: 21, end: 8 };

    fn address(country: &str, region: Option<&str>) -> ShippingAddress {
        ShippingAddress { country: country.into(), region: region.map(Into::into), postal_code: None }
    }

    fn utc(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0).unwrap()
    }

    #[test]
    fn the_recipients_zone_comes_from_the_address_else_the_shops() {
        let shop: Tz = chrono_tz::Europe::Paris;
        let cases = [
            (Some(address("US", Some("NY"))), "America/New_York"),
            (Some(address("us", Some("ca"))), "America/Los_Angeles"),
            (Some(address("US", Some("AZ"))), "America/Phoenix"),
            (Some(address("US", None)), "Europe/Paris"),
            (Some(address("CA", Some("BC"))), "America/Vancouver"),
            (Some(address("AU", Some("WA"))), "Australia/Perth"),
            (Some(address("GB", Some("ENG"))), "Europe/London"),
            (Some(address("JP", None)), "Asia/Tokyo"),
            (Some(address("ES", Some("TF"))), "Atlantic/Canary"),
            (Some(address("ES", None)), "Europe/Madrid"),
            (Some(address("RU", Some("KHA"))), "Europe/Paris"),
            (Some(address("ZZ", None)), "Europe/Paris"),
            (None, "Europe/Paris"),
        ];
        for (address, zone) in cases {
            assert_eq!(recipient_time_zone(address.as_ref(), shop).name(), zone, "{address:?}");
        }
    }

    #[test]
    fn every_zone_in_the_tables_is_a_real_one() {
        // Every arm of every table, by an input that reaches it.
        let regions = [
            "", "NY", "IL", "CO", "AZ", "CA", "AK", "HI", "PR", "GU", "AS", "BC", "AB", "SK", "MB", "ON", "NB", "NL",
            "YT", "NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "AC", "AM", "BCN", "SON", "SIN", "ROO", "TF", "20",
            "30", "IP", "W", "MOW", "JK",
        ];
        let multi = ["RU", "ID", "KZ", "MN", "CD", "CL", "EC", "PT", "ES", "NZ", "AR"];
        let single = [
            "GB", "IE", "FR", "MC", "DE", "NL", "BE", "LU", "CH", "LI", "AT", "IT", "SM", "VA", "DK", "SE", "NO", "FI",
            "IS", "PL", "CZ", "SK", "HU", "SI", "HR", "RO", "BG", "GR", "CY", "MT", "EE", "LV", "LT", "UA", "TR", "IL",
            "AE", "SA", "QA", "IN", "PK", "SG", "MY", "TH", "VN", "PH", "HK", "TW", "CN", "JP", "KR", "ZA", "NG", "KE",
            "EG", "MA", "CO", "PE", "UY",
        ];
        let mut names: Vec<&str> = Vec::new();
        for region in regions {
            names.extend([us_state(region), canadian_province(region), australian_state(region)].into_iter().flatten());
            names.extend([brazilian_state(region), mexican_state(region)]);
            names.extend(multi.iter().filter_map(|country| single_or_main(country, region)));
        }
        names.extend(single.iter().map(|country| one_zone(country).unwrap_or_else(|| panic!("{country}"))));
        assert!(names.len() > 200);
        for name in names {
            assert!(name.parse::<Tz>().is_ok(), "{name} is not an IANA zone chrono-tz knows");
        }
    }

    #[test]
    fn a_text_at_night_waits_for_the_morning_in_the_recipients_zone() {
        let new_york: Tz = chrono_tz::America::New_York;
        // 23:30 in New York (04:30 UTC next day): quiet until 08:00 New York (13:00 UTC).
        assert_eq!(NIGHT.until(utc(12, 8, 4, 30), new_york), Some(utc(12, 8, 13, 0)));
        // 02:00 in New York: the same morning.
        assert_eq!(NIGHT.until(utc(12, 8, 7, 0), new_york), Some(utc(12, 8, 13, 0)));
        // 21:00 sharp is quiet, 08:00 sharp is not, 20:59 is not.
        assert_eq!(NIGHT.until(utc(12, 8, 2, 0), new_york), Some(utc(12, 8, 13, 0)));
        assert_eq!(NIGHT.until(utc(12, 8, 13, 0), new_york), None);
        assert_eq!(NIGHT.until(utc(12, 8, 1, 59), new_york), None);
        // Quiet hours that do not cross midnight, and none at all.
        let siesta = QuietHours { start: 13, end: 15 };
        assert_eq!(siesta.until(utc(12, 8, 14, 0), chrono_tz::UTC), Some(utc(12, 8, 15, 0)));
        assert_eq!(QuietHours { start: 8, end: 8 }.until(utc(12, 8, 3, 0), chrono_tz::UTC), None);
        // The morning of a clock change (Europe, 29 March 2026: 02:00 → 03:00) with quiet hours to 02:00.
        let paris: Tz = chrono_tz::Europe::Paris;
        let to_two = QuietHours { start: 23, end: 2 };
        assert_eq!(to_two.until(utc(3, 29, 0, 30), paris), Some(utc(3, 29, 1, 0)));
    }
}
