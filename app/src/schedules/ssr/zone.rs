//! When a schedule runs: its PVE calendar event read in its IANA time zone.

use jiff::{Timestamp, tz::TimeZone};
use pve::calendar::CalendarEvent;

use crate::{error::AppError, schedules::RunTime};

/// Longest calendar event accepted.
const MAX_CALENDAR_LEN: usize = 200;
/// Longest time zone name accepted (IANA names are far shorter).
const MAX_ZONE_LEN: usize = 64;

/// A calendar event and the time zone it is read in.
#[derive(Debug, Clone)]
pub struct When {
    event: CalendarEvent,
    zone: TimeZone,
}

impl When {
    /// Checks a calendar event as PVE does and the time zone against the time zone database.
    pub fn parse(calendar: &str, timezone: &str) -> Result<Self, AppError> {
        let calendar = calendar.trim();
        // PVE's own events are short; a long one only costs the parser and the search.
        if calendar.len() > MAX_CALENDAR_LEN {
            return Err(AppError::InvalidInput(format!(
                "a calendar event is at most {MAX_CALENDAR_LEN} characters."
            )));
        }
        let event: CalendarEvent = calendar.parse().map_err(|e| {
            AppError::InvalidInput(format!("invalid calendar event {calendar:?}: {e}"))
        })?;
        Ok(Self {
            event,
            zone: zone(timezone)?,
        })
    }

    /// The first slot strictly after `after` (Unix seconds), if the event has one.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let after = Timestamp::from_second(after).ok()?;
        Some(self.event.next_after(after, &self.zone)?.as_second())
    }

    /// Up to `n` slots after `after`, each with how it reads in the zone.
    pub fn upcoming(&self, after: i64, n: usize) -> Vec<RunTime> {
        let Ok(after) = Timestamp::from_second(after) else {
            return Vec::new();
        };
        self.event
            .upcoming(after, &self.zone, n)
            .into_iter()
            .map(|at| self.run_time(at.as_second()))
            .collect()
    }

    /// `at` with how it reads in the zone.
    pub fn run_time(&self, at: i64) -> RunTime {
        RunTime {
            at,
            local: local_time(at, &self.zone),
        }
    }
}

/// The time zone named `name` (`America/Sao_Paulo`, `UTC`).
pub fn zone(name: &str) -> Result<TimeZone, AppError> {
    let name = name.trim();
    let found = if name.len() <= MAX_ZONE_LEN {
        TimeZone::get(name).ok()
    } else {
        None
    };
    found.ok_or_else(|| {
        AppError::InvalidInput(format!(
            "unknown time zone {:?}: give an IANA name such as America/Sao_Paulo or UTC.",
            name.chars().take(64).collect::<String>()
        ))
    })
}

/// `Mon 2026-12-07 07:30 -03`: the instant `at` on the wall clock of `zone`.
pub fn local_time(at: i64, zone: &TimeZone) -> String {
    match Timestamp::from_second(at) {
        Ok(ts) => ts
            .to_zoned_datetime(zone.clone())
            .strftime("%a %Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => at.to_string(),
    }
}

/// The server's time zone (the default for new schedules): its IANA name, or UTC when the
/// system does not name one.
pub fn server_zone_name() -> String {
    TimeZone::try_system()
        .ok()
        .and_then(|tz| tz.iana_name().map(str::to_owned))
        .unwrap_or_else(|| "UTC".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sao_paulo_weekday_mornings() {
        // Monday 2026-12-07 12:00 UTC = 09:00 in Sao Paulo (UTC-3, no DST since 2019).
        let monday_noon_utc = 1_796_644_800;
        let when = When::parse("mon..fri 07:30", "America/Sao_Paulo").unwrap();
        let runs = when.upcoming(monday_noon_utc, 3);
        let local: Vec<_> = runs.iter().map(|r| r.local.as_str()).collect();
        assert_eq!(
            local,
            [
                "Tue 2026-12-08 07:30 -03",
                "Wed 2026-12-09 07:30 -03",
                "Thu 2026-12-10 07:30 -03"
            ]
        );
        assert_eq!(runs[0].at, monday_noon_utc + 86_400 - 5400);
        assert_eq!(when.next_after(runs[0].at), Some(runs[1].at));
    }

    #[test]
    fn bad_calendar_and_zone_are_refused_with_the_reason() {
        let err = When::parse("mon..fri 12:60", "UTC")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid calendar event \"mon..fri 12:60\""),
            "{err}"
        );
        let err = When::parse("daily", "Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown time zone \"Mars/Olympus\""), "{err}");
    }
}
