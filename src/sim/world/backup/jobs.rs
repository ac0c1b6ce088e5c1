//! Backup jobs (`/cluster/backup`, `jobs.cfg` `vzdump:` sections) and the subset of PVE's
//! systemd-like calendar events they use: `[weekdays] [hours:]minutes`, e.g. `sat 02:00`,
//! `mon..fri 22:00`, `*/30`, `02:30`, `mon,wed,fri`, plus `hourly`, `daily`, `weekly`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// One backup job: its ID and its options, as stored (strings).
#[derive(Clone, Debug, Default)]
pub(crate) struct Job {
    pub id: String,
    pub options: BTreeMap<String, String>,
}

/// Options answered as numbers.
const NUMERIC: &[&str] = &[
    "all",
    "enabled",
    "protected",
    "repeat-missed",
    "bwlimit",
    "ionice",
    "lockwait",
    "stopwait",
    "zstd",
    "pigz",
    "quiet",
    "remove",
    "stdexcludes",
    "stop",
];

impl Job {
    /// The JSON of `GET /cluster/backup[/{id}]`, with `next-run` for enabled, scheduled jobs.
    pub(crate) fn to_json(&self, now: i64) -> Value {
        let mut v = Map::new();
        v.insert("id".into(), json!(self.id));
        v.insert("type".into(), json!("vzdump"));
        for (k, val) in &self.options {
            let n = NUMERIC
                .contains(&k.as_str())
                .then(|| val.parse::<i64>().ok())
                .flatten();
            let value = if ["prune-backups", "fleecing", "performance"].contains(&k.as_str()) {
                // PVE answers these property strings decoded, as objects.
                property_object(val)
            } else {
                n.map_or_else(|| json!(val), |n| json!(n))
            };
            v.insert(k.clone(), value);
        }
        let enabled = self.options.get("enabled").is_none_or(|e| e != "0");
        let next = self
            .options
            .get("schedule")
            .and_then(|s| Calendar::parse(s).ok())
            .and_then(|c| c.next_after(now));
        if let (true, Some(next)) = (enabled, next) {
            v.insert("next-run".into(), json!(next));
        }
        Value::Object(v)
    }
}

/// `a=1,b=x` → `{"a": 1, "b": "x"}`.
fn property_object(text: &str) -> Value {
    let m: Map<String, Value> = text
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let val = v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n));
            (k.to_owned(), val)
        })
        .collect();
    Value::Object(m)
}

/// A parsed calendar event: allowed weekdays (Monday = 0), hours and minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Calendar {
    days: [bool; 7],
    hours: [bool; 24],
    minutes: [bool; 60],
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    /// Parses `text`; the error is PVE's format message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("unable to parse calendar event '{text}'");
        let text = text.trim();
        let aliased = match text {
            "minutely" => "*:*",
            "hourly" => "*:0",
            "daily" => "0:0",
            "weekly" => "mon 0:0",
            other => other,
        };
        let mut parts = aliased.split_whitespace().peekable();
        let mut days = [true; 7];
        if let Some(first) = parts.peek()
            && first.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            days = [false; 7];
            for item in first.split(',') {
                let (a, b) = item.split_once("..").unwrap_or((item, item));
                let ia = day_index(a).ok_or_else(bad)?;
                let ib = day_index(b).ok_or_else(bad)?;
                let mut i = ia;
                loop {
                    days[i] = true;
                    if i == ib {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            parts.next();
        }
        let (hours, minutes) = match parts.next() {
            None => (spec::<24>("0"), spec::<60>("0")),
            Some(time) => match time.split_once(':') {
                Some((h, m)) => (spec::<24>(h), spec::<60>(m)),
                None => (spec::<24>("*"), spec::<60>(time)),
            },
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        match (hours, minutes) {
            (Some(hours), Some(minutes)) => Ok(Self {
                days,
                hours,
                minutes,
            }),
            _ => Err(bad()),
        }
    }

    /// The first matching minute strictly after `now` (within 8 days), as Unix time (UTC).
    pub(crate) fn next_after(&self, now: i64) -> Option<i64> {
        let start = now.div_euclid(60) * 60 + 60;
        (0..8 * 1440).map(|i| start + i * 60).find(|&t| {
            let days = t.div_euclid(86_400);
            // 1970-01-01 was a Thursday (Monday = 0 → 3).
            let dow = (days + 3).rem_euclid(7) as usize;
            let secs = t.rem_euclid(86_400);
            self.days[dow]
                && self.hours[(secs / 3600) as usize]
                && self.minutes[(secs / 60 % 60) as usize]
        })
    }
}

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES.iter().position(|d| *d == name)
}

/// A comma list of `*`, `N`, `A..B`, each optionally `/step`.
fn spec<const N: usize>(text: &str) -> Option<[bool; N]> {
    let mut out = [false; N];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<usize>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (0, N - 1)
        } else if let Some((a, b)) = range.split_once("..") {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let a: usize = range.parse().ok()?;
            (a, if item.contains('/') { N - 1 } else { a })
        };
        if a >= N || b >= N || a > b {
            return None;
        }
        for v in (a..=b).step_by(step) {
            out[v] = true;
        }
    }
    Some(out)
}

/// The job every fresh simulator has: a weekly backup of the first four VMs.
pub(crate) fn initial_jobs(vmids: &[u32]) -> BTreeMap<String, Job> {
    let list: Vec<String> = vmids.iter().take(4).map(u32::to_string).collect();
    let options = [
        ("schedule", "sat 02:00"),
        ("storage", "backup"),
        ("mode", "snapshot"),
        ("compress", "zstd"),
        ("enabled", "1"),
        ("notes-template", "{{guestname}}"),
        ("prune-backups", "keep-last=3,keep-weekly=2"),
        ("comment", "weekly production backup"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([("vmid".to_owned(), list.join(","))])
    .collect();
    let id = "backup-5b3c1d2e-0b8a".to_owned();
    let mut jobs = BTreeMap::new();
    jobs.insert(id.clone(), Job { id, options });
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_events() {
        // 2026-07-06 was a Monday; 1783296000 = 2026-07-06 00:00 UTC.
        let monday = 1_783_296_000;
        let sat = Calendar::parse("sat 02:00").unwrap();
        assert_eq!(sat.next_after(monday), Some(monday + 5 * 86_400 + 7200));
        let half = Calendar::parse("*/30").unwrap();
        assert_eq!(half.next_after(monday + 60), Some(monday + 1800));
        let wd = Calendar::parse("mon..fri 22:00").unwrap();
        assert_eq!(wd.next_after(monday), Some(monday + 22 * 3600));
        assert_eq!(
            Calendar::parse("02:30").unwrap().next_after(monday),
            Some(monday + 9000)
        );
        assert!(Calendar::parse("someday 25:00").is_err());
        assert!(Calendar::parse("sat 24:00").is_err());
    }
}
