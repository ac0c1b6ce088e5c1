//! Proxmox VE calendar events: the `schedule` of backup and replication jobs.
//!
//! The syntax is the one of proxmox-time's `CalendarEvent` (modelled on `systemd.time`):
//!
//! ```text
//! [WEEKDAYS] [[YEARS-]MONTHS-DAYS] [HOURS:]MINUTES[:SECONDS] [UTC]
//! ```
//!
//! or one of the keywords `minutely`, `hourly`, `daily`, `weekly` (Monday 00:00), `monthly`,
//! `yearly`/`annually`, `quarterly` and `semiannually`/`semi-annually` (optionally followed by
//! `UTC`). Weekdays are `mon`…`sun` or `monday`…`sunday` (any case), as a comma list of days and
//! `a..b` ranges (`fri..mon` wraps). Every date and time field is `*` (any value), `*/r`, or a
//! comma list of `v`, `a..b`, `a/r` and `a..b/r`. A missing time means `00:00:00`, a time
//! without seconds means second 0, and a single time field is the minute (`*/5` runs every five
//! minutes). At least one of weekday, date and time must be given.
//!
//! # Time zones
//!
//! An event is matched against the wall clock of the time zone handed to
//! [`CalendarEvent::next_after`], or against UTC when the event ends in `UTC`. The event fires at
//! the set of instants obtained by resolving every matching wall time with jiff's
//! [`Disambiguation::Compatible`](jiff::tz::Disambiguation::Compatible):
//!
//! * a matching wall time that does not exist (spring forward gap) fires shifted by the length of
//!   the gap: `02:30` in a `02:00`→`03:00` gap fires at `03:30` of the new offset;
//! * a matching wall time that occurs twice (fall back) fires once, at its first occurrence; the
//!   repeated hour does not fire it again;
//! * a gap-shifted instant that coincides with a regular one (`02:00` shifted in the example
//!   above and a real `03:00`) fires once.
//!
//! [`CalendarEvent::next_after`] returns the earliest of these instants strictly after the given
//! one, so chaining it is strictly increasing and never fires an instant twice.
//!
//! # Compatibility with proxmox-time
//!
//! In UTC, [`CalendarEvent::next_after`] gives exactly proxmox-time's `compute_next_event`
//! (cross-checked on random expressions), including its search quirk for unbounded
//! repetitions whose step does not divide the field's range: the wrap-around value is skipped
//! (`0/7:00` after 21:00 next runs at 07:00, not 00:00; `*/13` after :52 runs at :13), which is
//! also when PVE's scheduler runs such jobs, and its reading of a two-field time whose first
//! field is no hour list as `MINUTE:SECOND` (`25:00` is minute 25 of every hour: PVE accepts
//! it, so a check stricter than PVE's would refuse jobs PVE runs). Differences:
//!
//! * surrounding whitespace is ignored;
//! * no run is found after the year 9999 (jiff's range);
//! * error messages name the offending value (`time value too large`, `range start is bigger
//!   than end`) where proxmox-time mostly reports the unparsed rest.

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

mod parse;
#[cfg(test)]
mod tests;

/// Steps of the civil search before giving up, as in proxmox-time.
const SEARCH_STEPS: usize = 1000;

/// Candidate wall times examined per [`CalendarEvent::next_after`] call; only time zone
/// transitions need more than one.
const TZ_STEPS: usize = 16;

/// A calendar event could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The input was empty (or only whitespace).
    #[error("unable to parse calendar event")]
    Empty,
    /// The input could not be parsed at `rest`.
    #[error("unable to parse calendar event at '{rest}' - {what}")]
    Invalid {
        /// The input from the failing position on.
        rest: String,
        /// What is wrong there.
        what: &'static str,
    },
}

/// A parsed calendar event, e.g. `mon..fri 21:00` or `*/15`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarEvent {
    source: String,
    utc: bool,
    /// Bit 0 is Monday … bit 6 Sunday; 0 means any day.
    weekdays: u8,
    year: Vec<Value>,
    month: Vec<Value>,
    day: Vec<Value>,
    hour: Vec<Value>,
    minute: Vec<Value>,
    second: Vec<Value>,
}

/// One entry of a field list: `start`, `start..end`, `start/step` or `start..end/step`.
/// `end: None` is unbounded; a list without entries matches any value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Value {
    start: u32,
    end: Option<u32>,
    step: u32,
}

impl Value {
    fn single(v: u32) -> Self {
        Self::range(v, v)
    }

    fn range(start: u32, end: u32) -> Self {
        Self {
            start,
            end: Some(end),
            step: 1,
        }
    }

    /// A repetition; a step of 0 only matches `start`, like proxmox-time.
    fn repeated(start: u32, step: u32, end: Option<u32>) -> Self {
        if step == 0 {
            Self::single(start)
        } else {
            Self { start, end, step }
        }
    }

    fn contains(self, x: u32) -> bool {
        x >= self.start
            && self.end.is_none_or(|end| x <= end)
            && (x - self.start).is_multiple_of(self.step)
    }

    /// The smallest value of this entry greater than `x`.
    fn next_after(self, x: u32) -> Option<u32> {
        let next = if x < self.start {
            self.start
        } else {
            self.start + ((x - self.start) / self.step + 1) * self.step
        };
        self.end.is_none_or(|end| next <= end).then_some(next)
    }
}

fn list_contains(list: &[Value], x: u32) -> bool {
    list.is_empty() || list.iter().any(|v| v.contains(x))
}

fn list_next(list: &[Value], x: u32) -> Option<u32> {
    list.iter().filter_map(|v| v.next_after(x)).min()
}

impl CalendarEvent {
    /// True when the event ends in ` UTC`: it is then evaluated in UTC, whatever time zone is
    /// passed to [`next_after`](Self::next_after).
    pub fn is_utc(&self) -> bool {
        self.utc
    }

    /// The first civil date-time strictly after `after` that matches (seconds precision), or
    /// `None` if none exists (e.g. `2021-02-29`, a year in the past, or nothing within a bounded
    /// search).
    pub fn next_civil_after(&self, after: DateTime) -> Option<DateTime> {
        let whole = after
            .date()
            .at(after.hour(), after.minute(), after.second(), 0);
        self.first_match_from(whole.checked_add(SignedDuration::from_secs(1)).ok()?)
    }

    /// The first instant strictly after `after` at which the event fires in time zone `tz`
    /// (ignored when [`is_utc`](Self::is_utc)); see the module documentation for the handling
    /// of daylight saving time transitions.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let tz = if self.utc { &TimeZone::UTC } else { tz };
        let wall = tz.to_datetime(after);
        let mut cursor = search_start(after, tz);
        let mut best: Option<Timestamp> = None;
        for _ in 0..TZ_STEPS {
            let Some(civil) = self.next_civil_after(cursor) else {
                break;
            };
            let ambiguous = tz.to_ambiguous_timestamp(civil);
            let Ok(fires) = ambiguous.compatible() else {
                break;
            };
            if fires > after && best.is_none_or(|b| fires < b) {
                best = Some(fires);
            }
            match ambiguous.offset() {
                AmbiguousOffset::Gap { after: new, .. } if fires > after => {
                    // Later wall times of this gap fire later still, so only the wall times
                    // after the gap can beat `fires`; those up to `after` already fired.
                    let Some(end) = gap_end(tz, fires, new.to_datetime(after)) else {
                        break;
                    };
                    cursor = cursor.max(end);
                }
                AmbiguousOffset::Gap { before, .. } => {
                    cursor = civil.max(before.to_datetime(after));
                }
                _ if fires > after => break,
                _ => cursor = civil.max(wall),
            }
        }
        best
    }

    /// Up to `n` successive instants after `after` (for previews), see
    /// [`next_after`](Self::next_after).
    pub fn upcoming(&self, after: Timestamp, tz: &TimeZone, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n.min(64));
        let mut last = after;
        while out.len() < n {
            let Some(next) = self.next_after(last, tz) else {
                break;
            };
            out.push(next);
            last = next;
        }
        out
    }

    /// The first matching civil time at or after `t` (whole seconds), following proxmox-time's
    /// search: fix the fields from the largest to the smallest, jumping to the next candidate.
    fn first_match_from(&self, mut t: DateTime) -> Option<DateTime> {
        let all_days = self.weekdays == 0 || self.weekdays == 0x7f;
        for _ in 0..=SEARCH_STEPS {
            let year = u32::try_from(t.year()).ok()?;
            if !list_contains(&self.year, year) {
                let next = list_next(&self.year, year)?;
                t = start_of_year(next)?;
                continue;
            }
            let month = t.month() as u32;
            if !list_contains(&self.month, month) {
                t = match list_next(&self.month, month) {
                    Some(next) => add_months(t, next - month)?,
                    None => start_of_year(year + 1)?,
                };
                continue;
            }
            let day = t.day() as u32;
            if !list_contains(&self.day, day) {
                t = match list_next(&self.day, day) {
                    Some(next) => at_secs(t.date(), i64::from(next - day) * 86400)?,
                    None => add_months(t, 1)?,
                };
                continue;
            }
            let weekday = t.weekday().to_monday_zero_offset() as u32;
            if !all_days && self.weekdays & (1 << weekday) == 0 {
                let next = (weekday + 1..7)
                    .find(|d| self.weekdays & (1 << d) != 0)
                    .unwrap_or(7);
                t = at_secs(t.date(), i64::from(next - weekday) * 86400)?;
                continue;
            }
            let (hour, minute, second) = (t.hour() as u32, t.minute() as u32, t.second() as u32);
            if !list_contains(&self.hour, hour) {
                let secs = list_next(&self.hour, hour).map_or(86400, |h| i64::from(h) * 3600);
                t = at_secs(t.date(), secs)?;
                continue;
            }
            let hour_start = i64::from(hour) * 3600;
            if !list_contains(&self.minute, minute) {
                let secs = list_next(&self.minute, minute).map_or(3600, |m| i64::from(m) * 60);
                t = at_secs(t.date(), hour_start + secs)?;
                continue;
            }
            let minute_start = hour_start + i64::from(minute) * 60;
            if !list_contains(&self.second, second) {
                let secs = list_next(&self.second, second).map_or(60, i64::from);
                t = at_secs(t.date(), minute_start + secs)?;
                continue;
            }
            return Some(t);
        }
        None
    }
}

/// `date` at midnight plus `secs` seconds (which may run into later days).
fn at_secs(date: Date, secs: i64) -> Option<DateTime> {
    date.to_datetime(Time::midnight())
        .checked_add(SignedDuration::from_secs(secs))
        .ok()
}

fn start_of_year(year: u32) -> Option<DateTime> {
    let year = i16::try_from(year).ok()?;
    Some(Date::new(year, 1, 1).ok()?.to_datetime(Time::midnight()))
}

/// Midnight on the first of the month `months` after the one of `t`.
fn add_months(t: DateTime, months: u32) -> Option<DateTime> {
    let span = jiff::Span::new().try_months(months).ok()?;
    let date = t.date().first_of_month().checked_add(span).ok()?;
    Some(date.to_datetime(Time::midnight()))
}

/// The wall time after which matches may fire after `after` (exclusive bound).
///
/// Normally the wall time of `after`. Just after a spring forward, wall times inside the gap
/// fire (shifted) after `after` too, so the search starts at `after` read in the old offset.
/// Within the repeated hour after a fall back, every repeated wall time already fired at its
/// first occurrence, so the search starts at the end of the repetition.
fn search_start(after: Timestamp, tz: &TimeZone) -> DateTime {
    let wall = tz.to_datetime(after);
    let nano = SignedDuration::from_nanos(1);
    let Some(transition) = after
        .checked_add(nano)
        .ok()
        .and_then(|t| tz.preceding(t).next())
    else {
        return wall;
    };
    let at = transition.timestamp();
    let Ok(just_before) = at.checked_sub(nano) else {
        return wall;
    };
    let old = tz.to_offset(just_before);
    let shift = i64::from(transition.offset().seconds()) - i64::from(old.seconds());
    if after.duration_since(at) >= SignedDuration::from_secs(shift.abs()) {
        return wall;
    }
    if shift > 0 {
        old.to_datetime(after)
    } else {
        let repeat_end = old.to_datetime(at);
        repeat_end
            .checked_sub(SignedDuration::from_secs(1))
            .map_or(wall, |end| end.max(wall))
    }
}

/// The last wall time of the gap that `fires` (a gap-shifted instant) belongs to, but not
/// before `floor`.
fn gap_end(tz: &TimeZone, fires: Timestamp, floor: DateTime) -> Option<DateTime> {
    let probe = fires.checked_add(SignedDuration::from_nanos(1)).ok()?;
    let Some(transition) = tz.preceding(probe).next() else {
        return Some(floor);
    };
    let end = transition.offset().to_datetime(transition.timestamp());
    Some(
        end.checked_sub(SignedDuration::from_secs(1))
            .ok()?
            .max(floor),
    )
}

impl fmt::Display for CalendarEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
