//! Time comes from a clock that tests and the CLI can set.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = now;
    }
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Either clock, chosen at start-up (`ppx --now`, tests) without making callers generic twice.
#[derive(Debug, Clone)]
pub enum AnyClock {
    System(SystemClock),
    Manual(ManualClock),
}

impl Clock for AnyClock {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System(c) => c.now(),
            Self::Manual(c) => c.now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::at(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(chrono::Duration::days(5));
        assert_eq!(clock.now(), start + chrono::Duration::days(5));
    }
}
