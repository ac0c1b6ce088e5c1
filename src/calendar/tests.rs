//! Tests of the calendar module: proxmox-time's own cases, the PVE admin guide examples,
//! errors and daylight saving time transitions.

use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::{CalendarError, CalendarEvent};

fn event(spec: &str) -> CalendarEvent {
    spec.parse().unwrap_or_else(|e| panic!("{spec:?}: {e}"))
}

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn instant(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The next `n` runs after `from` (an RFC 3339 instant), as wall times in `zone`.
fn runs(spec: &str, from: &str, zone: &str, n: usize) -> Vec<String> {
    let zone = tz(zone);
    let runs = event(spec).upcoming(instant(from), &zone, n);
    runs.iter()
        .map(|t| zone.to_datetime(*t).strftime("%a %F %T").to_string())
        .collect()
}

/// The next `n` runs after `from`, as UTC instants.
fn runs_utc(spec: &str, from: &str, zone: &str, n: usize) -> Vec<String> {
    let runs = event(spec).upcoming(instant(from), &tz(zone), n);
    runs.iter().map(ToString::to_string).collect()
}

/// proxmox-time's `test_compute_next_event`, with epochs in UTC.
#[test]
fn proxmox_time_next_event() {
    const MIN: i64 = 60;
    const HOUR: i64 = 3600;
    const DAY: i64 = 86400;
    const THU: i64 = 0; // 1970-01-01 00:00, a Thursday
    const THU_15: i64 = 15 * HOUR;
    const JUL_31_2020: i64 = 1596153600; // a Friday
    const DEC_31_2020: i64 = 1609372800; // a Thursday
    let cases: &[(&str, i64, i64)] = &[
        ("0", THU, THU + HOUR),
        ("*", THU, THU + MIN),
        ("*:0", THU, THU + HOUR),
        ("*:*", THU, THU + MIN),
        ("*:*:*", THU, THU + 1),
        ("*:3:5", THU, THU + 3 * MIN + 5),
        ("mon *:*", THU, THU + 4 * DAY),
        ("mon 2:*", THU, THU + 4 * DAY + 2 * HOUR),
        ("mon 2:50", THU, THU + 4 * DAY + 2 * HOUR + 50 * MIN),
        ("tue", THU, THU + 5 * DAY),
        ("wed", THU, THU + 6 * DAY),
        ("thu", THU, THU + 7 * DAY),
        ("fri", THU, THU + DAY),
        ("sat", THU, THU + 2 * DAY),
        ("sun", THU, THU + 3 * DAY),
        ("4..10/2:0", THU, THU + 4 * HOUR),
        ("4..10/2:0", THU + 5 * HOUR, THU + 6 * HOUR),
        ("4..10/2:0", THU + 11 * HOUR, THU + DAY + 4 * HOUR),
        ("5,10:4,8", THU, THU + 5 * HOUR + 4 * MIN),
        ("10,5:8,4", THU, THU + 5 * HOUR + 4 * MIN),
        ("6,4..10:23,5/5", THU, THU + 4 * HOUR + 5 * MIN),
        ("4..10,6:5/5,23", THU, THU + 4 * HOUR + 5 * MIN),
        ("sat", JUL_31_2020, JUL_31_2020 + DAY),
        ("sun", JUL_31_2020, JUL_31_2020 + 2 * DAY),
        ("mon", JUL_31_2020, JUL_31_2020 + 3 * DAY),
        ("tue", JUL_31_2020, JUL_31_2020 + 4 * DAY),
        ("wed", JUL_31_2020, JUL_31_2020 + 5 * DAY),
        ("thu", JUL_31_2020, JUL_31_2020 + 6 * DAY),
        ("fri", JUL_31_2020, JUL_31_2020 + 7 * DAY),
        ("fri", DEC_31_2020, DEC_31_2020 + DAY),
        ("sat", DEC_31_2020, DEC_31_2020 + 2 * DAY),
        ("sun", DEC_31_2020, DEC_31_2020 + 3 * DAY),
        ("mon", DEC_31_2020, DEC_31_2020 + 4 * DAY),
        ("tue", DEC_31_2020, DEC_31_2020 + 5 * DAY),
        ("wed", DEC_31_2020, DEC_31_2020 + 6 * DAY),
        ("thu", DEC_31_2020, DEC_31_2020 + 7 * DAY),
        ("daily", THU, THU + DAY),
        ("daily", THU + 1, THU + DAY),
        ("5/2:0", THU, THU + 5 * HOUR),
        ("5/2:0", THU + 5 * HOUR, THU + 7 * HOUR),
        ("5/2:0", THU + 7 * HOUR, THU + 9 * HOUR),
        ("5/2:0", THU + 9 * HOUR, THU + 11 * HOUR),
        ("2020-07-31", 0, JUL_31_2020),
        ("02-28", 0, (31 + 27) * DAY),
        ("02-29", 0, 2 * 365 * DAY + (31 + 28) * DAY), // 1972-02-29
        ("1965/5-01-01", -1, THU),
        ("2020-7..9-2/2", JUL_31_2020, JUL_31_2020 + 2 * DAY),
        ("2020,2021-12-31", JUL_31_2020, DEC_31_2020),
        ("minutely", THU, THU + MIN),
        ("hourly", THU, THU + HOUR),
        ("weekly", THU, THU + 4 * DAY),
        ("monthly", 0, 31 * DAY),
        ("quarterly", 0, (31 + 28 + 31) * DAY),
        ("semiannually", 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY),
        ("semi-annually", 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY),
        ("yearly", 0, 365 * DAY),
        ("annually", 0, 365 * DAY),
    ];
    let next = |spec: &str, last: i64| {
        let event = event(&format!("{spec} UTC"));
        let after = Timestamp::from_second(last).unwrap();
        event
            .next_after(after, &TimeZone::UTC)
            .map(|t| t.as_second())
    };
    for &(spec, last, expect) in cases {
        assert_eq!(next(spec, last), Some(expect), "{spec} after {last}");
    }
    // chained runs
    for (spec, start, step) in [("*:*", THU, MIN), ("*:0", THU, HOUR), ("1:0", THU_15, DAY)] {
        let first = if spec == "1:0" {
            THU + DAY + HOUR
        } else {
            THU + step
        };
        let runs = event(&format!("{spec} UTC")).upcoming(
            Timestamp::from_second(start).unwrap(),
            &TimeZone::UTC,
            99,
        );
        let runs: Vec<i64> = runs.iter().map(|t| t.as_second()).collect();
        let expect: Vec<i64> = (0..99).map(|i| first + i * step).collect();
        assert_eq!(runs, expect, "{spec}");
    }
    assert_eq!(next("2021-02-29", 0), None);
    assert_eq!(next("02-30", 0), None);

    // proxmox-time's search skips the wrap-around of an unbounded repetition whose step
    // does not divide the field's range; PVE's scheduler runs jobs that way, so do we.
    assert_eq!(next("0/7:00", THU + 21 * HOUR), Some(THU + DAY + 7 * HOUR));
    assert_eq!(next("*/13", THU + 52 * MIN), Some(THU + HOUR + 13 * MIN));
    assert_eq!(next("*/13", THU + HOUR - 1), Some(THU + HOUR));
    assert_eq!(next("*-*/7", THU + 29 * DAY), Some(THU + 38 * DAY));
}

/// proxmox-time's `test_calendar_event_weekday`, plus the resulting day sets.
#[test]
fn weekday_parsing() {
    for spec in [
        "mon,wed..fri",
        "fri..mon",
        "mon",
        "MON",
        "monDay",
        "tue",
        "Tuesday",
        "wed",
        "wednesday",
        "thu",
        "thursday",
        "fri",
        "friday",
        "sat",
        "saturday",
        "sun",
        "sunday",
        "mon..fri",
        "mon,tue,fri",
        "mon,tue..wednesday,fri..sat",
    ] {
        event(spec);
    }
    let days = |spec: &str| event(spec).weekdays;
    assert_eq!(days("mon,wed..fri"), 0b0011101);
    assert_eq!(days("fri..mon"), 0b1110001);
    assert_eq!(days("mon..fri"), 0b0011111);
    assert_eq!(days("mon,tue..wednesday,fri..sat"), 0b0110111);
    assert_eq!(days("sun..sun"), 0b1000000);
    assert_eq!(days("SUNDAY"), 0b1000000);
    assert_eq!(
        event("weekly"),
        CalendarEvent {
            source: "weekly".into(),
            ..event("mon")
        }
    );
}

/// The examples table of the PVE admin guide, "Schedule Format".
#[test]
fn admin_guide_examples() {
    let workdays = [
        "Mon 2024-01-08 00:00:00",
        "Tue 2024-01-09 00:00:00",
        "Wed 2024-01-10 00:00:00",
        "Thu 2024-01-11 00:00:00",
        "Fri 2024-01-12 00:00:00",
        "Mon 2024-01-15 00:00:00",
    ];
    let from = "2024-01-05T00:00:00Z"; // a Friday
    assert_eq!(runs("mon,tue,wed,thu,fri", from, "UTC", 6), workdays);
    assert_eq!(runs("mon..fri", from, "UTC", 6), workdays);
    assert_eq!(
        runs("sat,sun", from, "UTC", 3),
        [
            "Sat 2024-01-06 00:00:00",
            "Sun 2024-01-07 00:00:00",
            "Sat 2024-01-13 00:00:00"
        ]
    );
    assert_eq!(
        runs("mon,wed,fri", from, "UTC", 3),
        [
            "Mon 2024-01-08 00:00:00",
            "Wed 2024-01-10 00:00:00",
            "Fri 2024-01-12 00:00:00"
        ]
    );
    assert_eq!(
        runs("12:05", from, "UTC", 2),
        ["Fri 2024-01-05 12:05:00", "Sat 2024-01-06 12:05:00"]
    );
    assert_eq!(
        runs("*/5", "2024-01-05T23:50:00Z", "UTC", 3),
        [
            "Fri 2024-01-05 23:55:00",
            "Sat 2024-01-06 00:00:00",
            "Sat 2024-01-06 00:05:00"
        ]
    );
    assert_eq!(
        runs("mon..wed 30/10", "2024-01-10T22:45:00Z", "UTC", 5),
        [
            "Wed 2024-01-10 22:50:00",
            "Wed 2024-01-10 23:30:00",
            "Wed 2024-01-10 23:40:00",
            "Wed 2024-01-10 23:50:00",
            "Mon 2024-01-15 00:30:00",
        ]
    );
    let working = runs("mon..fri 8..17,22:0/15", "2024-01-07T12:00:00Z", "UTC", 45);
    assert_eq!(working[0], "Mon 2024-01-08 08:00:00");
    assert_eq!(working[1], "Mon 2024-01-08 08:15:00");
    assert_eq!(working[39], "Mon 2024-01-08 17:45:00");
    assert_eq!(working[40], "Mon 2024-01-08 22:00:00");
    assert_eq!(working[43], "Mon 2024-01-08 22:45:00");
    assert_eq!(working[44], "Tue 2024-01-09 08:00:00");
    assert_eq!(
        runs("mon..fri 8..17,22:0/15", "2024-01-12T22:40:00Z", "UTC", 2),
        ["Fri 2024-01-12 22:45:00", "Mon 2024-01-15 08:00:00"]
    );
    assert_eq!(
        runs("fri 12..13:5/20", "2024-01-01T00:00:00Z", "UTC", 7),
        [
            "Fri 2024-01-05 12:05:00",
            "Fri 2024-01-05 12:25:00",
            "Fri 2024-01-05 12:45:00",
            "Fri 2024-01-05 13:05:00",
            "Fri 2024-01-05 13:25:00",
            "Fri 2024-01-05 13:45:00",
            "Fri 2024-01-12 12:05:00",
        ]
    );
    let even = runs("12,14,16,18,20,22:5", from, "UTC", 7);
    assert_eq!(
        even,
        [
            "Fri 2024-01-05 12:05:00",
            "Fri 2024-01-05 14:05:00",
            "Fri 2024-01-05 16:05:00",
            "Fri 2024-01-05 18:05:00",
            "Fri 2024-01-05 20:05:00",
            "Fri 2024-01-05 22:05:00",
            "Sat 2024-01-06 12:05:00",
        ]
    );
    assert_eq!(runs("12/2:5", from, "UTC", 7), even);
    assert_eq!(
        runs("12,14,16,18,20,22:5", from, "UTC", 60),
        runs("12/2:5", from, "UTC", 60)
    );
    assert_eq!(
        runs("*", "2024-01-05T23:58:30Z", "UTC", 3),
        [
            "Fri 2024-01-05 23:59:00",
            "Sat 2024-01-06 00:00:00",
            "Sat 2024-01-06 00:01:00"
        ]
    );
    assert_eq!(
        runs("*-05", from, "UTC", 3),
        [
            "Mon 2024-02-05 00:00:00",
            "Tue 2024-03-05 00:00:00",
            "Fri 2024-04-05 00:00:00"
        ]
    );
    assert_eq!(
        runs("Sat *-1..7 15:00", "2024-01-01T00:00:00Z", "UTC", 4),
        [
            "Sat 2024-01-06 15:00:00",
            "Sat 2024-02-03 15:00:00",
            "Sat 2024-03-02 15:00:00",
            "Sat 2024-04-06 15:00:00",
        ]
    );
    assert_eq!(
        runs("2015-10-21", "2015-01-01T00:00:00Z", "UTC", 3),
        ["Wed 2015-10-21 00:00:00"]
    );
    assert!(runs("2015-10-21", "2024-01-01T00:00:00Z", "UTC", 3).is_empty());
}

#[test]
fn a_first_field_that_is_no_hour_makes_minute_and_second_as_in_pve() {
    // proxmox-time reads `25:00` as minute 25, second 0 of every hour; PVE accepts it.
    assert_eq!(
        runs("25:00", "2024-01-01T00:00:00Z", "UTC", 2),
        ["Mon 2024-01-01 00:25:00", "Mon 2024-01-01 01:25:00"]
    );
    assert_eq!(
        runs("*/30:00", "2024-01-01T00:10:00Z", "UTC", 2),
        ["Mon 2024-01-01 00:30:00", "Mon 2024-01-01 01:00:00"]
    );
}

#[test]
fn errors() {
    let err = |spec: &str| spec.parse::<CalendarEvent>().unwrap_err().to_string();
    assert_eq!(err(""), "unable to parse calendar event");
    assert_eq!(err("  "), "unable to parse calendar event");
    let cases = [
        ("foo", "at 'foo' - invalid weekday"),
        ("Daily", "at 'Daily' - invalid weekday"),
        ("daily 12:00", "at 'daily 12:00' - invalid weekday"),
        ("mon,foo", "at 'foo' - invalid weekday"),
        ("12:60", "at '60' - time value too large"),
        ("12:00:60", "at '60' - time value too large"),
        (
            "mon..fri 8..7:00",
            "at '8..7:00' - range start is bigger than end",
        ),
        ("13-01", "at '13-01' - time value too large"),
        ("2020-13-01", "at '13-01' - time value too large"),
        ("2200-01-01", "at '2200-01-01' - time value too large"),
        ("*-32", "at '32' - time value too large"),
        ("*/5 bogus", "at ' bogus' - unexpected input"),
        ("*/0", "at '/0' - unexpected input"),
        ("12:00 UTC x", "at ' UTC x' - unexpected input"),
        ("UTC", "at 'UTC' - expected weekday, date or time"),
        (":30", "at ':30' - expected weekday, date or time"),
    ];
    for (spec, what) in cases {
        assert_eq!(
            err(spec),
            format!("unable to parse calendar event {what}"),
            "{spec:?}"
        );
    }
    assert_eq!(
        "12:60".parse::<CalendarEvent>(),
        Err(CalendarError::Invalid {
            rest: "60".into(),
            what: "time value too large"
        })
    );
}

/// Corners of proxmox-time's grammar that are accepted.
#[test]
fn accepted_corners() {
    for spec in [
        "mon12:00",
        "*-*-*12:00",
        "12:00UTC",
        "mon UTC",
        "5/0",
        "8..17/0:00",
        "00-00",
        "*/23:*/59:*/59",
        "2199-12-31 23:59:59",
        "0005:0007",
        "mon\t12:00",
    ] {
        event(spec);
    }
    let at = |spec: &str, from: &str| runs(spec, from, "UTC", 2);
    // a step of 0 only matches the start
    assert_eq!(
        at("8..17/0:00", "2024-01-01T00:00:00Z"),
        ["Mon 2024-01-01 08:00:00", "Tue 2024-01-02 08:00:00"]
    );
    assert!(at("00-00", "2024-01-01T00:00:00Z").is_empty());
}

#[test]
fn display_and_utc() {
    let e = event("  mon..fri 21:00 UTC ");
    assert_eq!(e.to_string(), "mon..fri 21:00 UTC");
    assert!(e.is_utc());
    assert!(!event("daily").is_utc());
    assert!(event("dailyUTC").is_utc());
    let berlin = tz("Europe/Berlin");
    let from = instant("2024-01-05T00:00:00Z");
    let at = |spec: &str| event(spec).next_after(from, &berlin).unwrap().to_string();
    assert_eq!(at("12:00 UTC"), "2024-01-05T12:00:00Z");
    assert_eq!(at("12:00"), "2024-01-05T11:00:00Z");
    assert_eq!(at("daily UTC"), "2024-01-06T00:00:00Z");
    assert_eq!(at("daily"), "2024-01-05T23:00:00Z");
}

#[test]
fn civil_search() {
    let next = |spec: &str, after: DateTime| event(spec).next_civil_after(after);
    let noon = date(2024, 1, 5).at(12, 0, 0, 0);
    assert_eq!(next("12:00", noon), Some(date(2024, 1, 6).at(12, 0, 0, 0)));
    assert_eq!(
        next("*:*:*", date(2024, 1, 5).at(12, 0, 0, 500)),
        Some(noon + SignedDuration::from_secs(1))
    );
    assert_eq!(next("2021-02-29", noon), None);
    assert_eq!(next("2020-01-01", noon), None);
    assert_eq!(next("02-30", noon), None);
    assert_eq!(next("*-04-31", noon), None);
    assert_eq!(
        next("fri *-02-29", noon),
        Some(date(2036, 2, 29).at(0, 0, 0, 0))
    );
    assert_eq!(
        next("2199-12-31 23:59:59", noon),
        Some(date(2199, 12, 31).at(23, 59, 59, 0))
    );
    assert_eq!(
        next("*-*-31 23:59", date(2024, 4, 1).at(0, 0, 0, 0)),
        Some(date(2024, 5, 31).at(23, 59, 0, 0))
    );
}

#[test]
fn berlin_spring_forward() {
    // 2024-03-31 02:00 CET -> 03:00 CEST
    assert_eq!(
        runs_utc("02:30", "2024-03-30T12:00:00Z", "Europe/Berlin", 3),
        [
            "2024-03-31T01:30:00Z",
            "2024-04-01T00:30:00Z",
            "2024-04-02T00:30:00Z"
        ]
    );
    assert_eq!(
        runs("02:30", "2024-03-30T12:00:00Z", "Europe/Berlin", 2),
        ["Sun 2024-03-31 03:30:00", "Mon 2024-04-01 02:30:00"]
    );
    // the shifted 02:30 and the real 03:30 are the same instant and fire once
    assert_eq!(
        runs_utc("*:30", "2024-03-30T23:00:00Z", "Europe/Berlin", 4),
        [
            "2024-03-30T23:30:00Z",
            "2024-03-31T00:30:00Z",
            "2024-03-31T01:30:00Z",
            "2024-03-31T02:30:00Z"
        ]
    );
    // every quarter hour through the gap: each UTC quarter hour exactly once
    let quarter = runs_utc("*/15", "2024-03-30T22:00:00Z", "Europe/Berlin", 24);
    let start = instant("2024-03-30T22:00:00Z");
    let expect: Vec<String> = (1..=24)
        .map(|i| (start + SignedDuration::from_mins(15 * i)).to_string())
        .collect();
    assert_eq!(quarter, expect);
}

/// Lord Howe springs forward by 30 minutes (02:00 -> 02:30): the shifted 02:15 fires at
/// 02:45, after the real 02:40.
#[test]
fn gap_shift_reorders_slots() {
    let zone = "Australia/Lord_Howe";
    assert_eq!(
        runs("2:15,40", "2024-10-05T12:00:00Z", zone, 3),
        [
            "Sun 2024-10-06 02:40:00",
            "Sun 2024-10-06 02:45:00",
            "Mon 2024-10-07 02:15:00"
        ]
    );
    assert_eq!(
        runs_utc("2:15,40", "2024-10-05T12:00:00Z", zone, 2),
        ["2024-10-05T15:40:00Z", "2024-10-05T15:45:00Z"]
    );
}

#[test]
fn berlin_fall_back() {
    // 2024-10-27 03:00 CEST -> 02:00 CET
    let zone = "Europe/Berlin";
    assert_eq!(
        runs_utc("02:30", "2024-10-26T12:00:00Z", zone, 2),
        ["2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"]
    );
    // from inside the repeated hour, the slot does not fire again
    for from in [
        "2024-10-27T00:30:00Z",
        "2024-10-27T01:10:00Z",
        "2024-10-27T01:30:00Z",
    ] {
        assert_eq!(
            runs_utc("02:30", from, zone, 1),
            ["2024-10-28T01:30:00Z"],
            "{from}"
        );
    }
    assert_eq!(
        runs_utc("*:30", "2024-10-26T22:00:00Z", zone, 5),
        [
            "2024-10-26T22:30:00Z",
            "2024-10-26T23:30:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-27T02:30:00Z",
            "2024-10-27T03:30:00Z",
        ]
    );
    let quarter = runs_utc("*/15", "2024-10-26T22:00:00Z", zone, 16);
    assert_eq!(quarter[10], "2024-10-27T00:45:00Z"); // 02:45 CEST
    assert_eq!(quarter[11], "2024-10-27T02:00:00Z"); // 03:00 CET
    assert_eq!(quarter[15], "2024-10-27T03:00:00Z");
}

/// Walking `*/15` through both Berlin transitions of 2024 and the Sao Paulo ones of
/// 2018/19: instants strictly increase and no wall time fires twice.
#[test]
fn chaining_is_monotonic() {
    for (zone, from) in [
        ("Europe/Berlin", "2024-03-30T20:00:00Z"),
        ("Europe/Berlin", "2024-10-26T20:00:00Z"),
        ("America/Sao_Paulo", "2018-11-03T20:00:00Z"),
        ("America/Sao_Paulo", "2019-02-16T20:00:00Z"),
    ] {
        let zone = tz(zone);
        let runs = event("*/15").upcoming(instant(from), &zone, 200);
        assert_eq!(runs.len(), 200);
        let mut last = instant(from);
        let mut walls = std::collections::HashSet::new();
        for t in runs {
            assert!(t > last, "{t} after {last}");
            assert!(
                t - last <= SignedDuration::from_mins(75),
                "{t} after {last}"
            );
            let wall = zone.to_datetime(t);
            assert_eq!(wall.minute() % 15, 0);
            assert!(walls.insert(wall), "{wall} fired twice");
            last = t;
        }
    }
}

#[test]
fn sao_paulo() {
    let zone = "America/Sao_Paulo";
    // 2018-11-04 00:00 -03 -> 01:00 -02: midnight does not exist
    assert_eq!(
        runs_utc("daily", "2018-11-03T12:00:00Z", zone, 2),
        ["2018-11-04T03:00:00Z", "2018-11-05T02:00:00Z"]
    );
    assert_eq!(
        runs("daily", "2018-11-03T12:00:00Z", zone, 2),
        ["Sun 2018-11-04 01:00:00", "Mon 2018-11-05 00:00:00"]
    );
    // 2019-02-17 00:00 -02 -> 2019-02-16 23:00 -03: 23:30 occurs twice, fires once
    assert_eq!(
        runs_utc("23:30", "2019-02-16T12:00:00Z", zone, 2),
        ["2019-02-17T01:30:00Z", "2019-02-18T02:30:00Z"]
    );
    assert_eq!(
        runs_utc("23:30", "2019-02-17T02:10:00Z", zone, 1),
        ["2019-02-18T02:30:00Z"]
    );
    // no DST since 2019: always -03
    assert_eq!(
        runs_utc("mon..fri 07:30", "2026-03-06T12:00:00Z", zone, 2),
        ["2026-03-09T10:30:00Z", "2026-03-10T10:30:00Z"]
    );
}

/// `next_after` against a brute force over every wall minute around transitions.
#[test]
fn next_after_matches_brute_force() {
    let cases = [
        ("Europe/Berlin", date(2024, 3, 30)),
        ("Europe/Berlin", date(2024, 10, 26)),
        ("America/Sao_Paulo", date(2018, 11, 3)),
        ("America/Sao_Paulo", date(2019, 2, 16)),
        ("Australia/Lord_Howe", date(2024, 4, 6)), // 30 minute shift
        ("Pacific/Apia", date(2011, 12, 29)),      // a skipped day
    ];
    let specs = [
        "*/15",
        "*:30",
        "02:30",
        "2,3:10,40",
        "0/6:*/20",
        "1..4:5..55/25",
        "23:30",
        "daily",
    ];
    for (zone, day) in cases {
        let zone = tz(zone);
        let start = day.at(0, 0, 0, 0);
        for spec in specs {
            let ev = event(spec);
            // every instant a wall minute of the window fires at
            let mut fires: Vec<Timestamp> = (0..4 * 24 * 60)
                .map(|m| start + SignedDuration::from_mins(m))
                .filter(|c| ev.next_civil_after(*c - SignedDuration::from_secs(1)) == Some(*c))
                .map(|c| zone.to_ambiguous_timestamp(c).compatible().unwrap())
                .collect();
            fires.sort();
            fires.dedup();
            let first = zone.to_ambiguous_timestamp(start).compatible().unwrap();
            let last = zone
                .to_ambiguous_timestamp(start + SignedDuration::from_hours(72))
                .compatible()
                .unwrap();
            for pair in fires.windows(2) {
                assert_eq!(
                    ev.next_after(pair[0], &zone),
                    Some(pair[1]),
                    "{spec} after {}",
                    pair[0]
                );
            }
            let mut after = first + SignedDuration::from_hours(2);
            while after < last {
                let expect = fires.iter().copied().find(|t| *t > after);
                assert_eq!(ev.next_after(after, &zone), expect, "{spec} after {after}");
                after += SignedDuration::from_secs(7 * 60 + 13);
            }
        }
    }
}
