//! The parser of [`CalendarEvent`]: a hand-written backtracking parser that accepts what
//! proxmox-time's nom grammar accepts.

use std::str::FromStr;

use super::{CalendarError, CalendarEvent, Value};

impl FromStr for CalendarEvent {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(CalendarError::Empty);
        }
        let (body, utc) = match text.strip_suffix("UTC") {
            Some(body) => (body.trim_end_matches(' '), true),
            None => (text, false),
        };
        let mut event = CalendarEvent {
            source: text.to_owned(),
            utc,
            weekdays: 0,
            year: Vec::new(),
            month: Vec::new(),
            day: Vec::new(),
            hour: Vec::new(),
            minute: Vec::new(),
            second: Vec::new(),
        };
        if event.apply_keyword(body) {
            return Ok(event);
        }
        let mut parser = Parser {
            text,
            len: body.len(),
            problem: None,
        };
        let mut rest = body;
        let mut has_spec = false;
        if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let Some((r, days)) = parser.weekdays(rest) else {
                return Err(parser.error(rest, "invalid weekday"));
            };
            event.weekdays = days;
            rest = skip_space(r);
            has_spec = true;
        }
        if let Some((r, [year, month, day])) = parser.date_spec(rest) {
            (event.year, event.month, event.day) = (year, month, day);
            rest = skip_space(r);
            has_spec = true;
        }
        if let Some((r, [hour, minute, second])) = parser.time_spec(rest) {
            (event.hour, event.minute, event.second) = (hour, minute, second);
            rest = r;
            has_spec = true;
        } else {
            event.hour = vec![Value::single(0)];
            event.minute = vec![Value::single(0)];
            event.second = vec![Value::single(0)];
        }
        if !has_spec {
            return Err(parser.error(rest, "expected weekday, date or time"));
        }
        if !rest.is_empty() {
            return Err(parser.error(rest, "unexpected input"));
        }
        Ok(event)
    }
}

impl CalendarEvent {
    /// Fills in the fields of a keyword such as `daily`; false if `body` is none.
    fn apply_keyword(&mut self, body: &str) -> bool {
        let (months, day, weekdays): (&[u32], Option<u32>, u8) = match body {
            "minutely" => {
                self.second = vec![Value::single(0)];
                return true;
            }
            "hourly" => {
                self.minute = vec![Value::single(0)];
                self.second = vec![Value::single(0)];
                return true;
            }
            "daily" => (&[], None, 0),
            "weekly" => (&[], None, 1),
            "monthly" => (&[], Some(1), 0),
            "yearly" | "annually" => (&[1], Some(1), 0),
            "quarterly" => (&[1, 4, 7, 10], Some(1), 0),
            "semiannually" | "semi-annually" => (&[1, 7], Some(1), 0),
            _ => return false,
        };
        self.month = months.iter().copied().map(Value::single).collect();
        self.day = day.map(Value::single).into_iter().collect();
        self.weekdays = weekdays;
        self.hour = vec![Value::single(0)];
        self.minute = vec![Value::single(0)];
        self.second = vec![Value::single(0)];
        true
    }
}

/// Spaces and tabs, like nom's `space0`.
fn skip_space(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// A rejected value seen while trying some alternative of the grammar.
#[derive(Clone, Copy)]
struct Problem {
    at: usize,
    reach: usize,
    what: &'static str,
}

/// A backtracking parser over `text` (without its `UTC` suffix, which is `len` bytes long).
/// Every sub-parser takes the remaining input and returns what is left after its match.
/// Rejected values are remembered so that the final error can name them.
struct Parser<'a> {
    text: &'a str,
    len: usize,
    problem: Option<Problem>,
}

type Fields = [Vec<Value>; 3];

impl<'a> Parser<'a> {
    fn pos(&self, rest: &str) -> usize {
        self.len - rest.len()
    }

    fn note(&mut self, from: &str, to: &str, what: &'static str) {
        let (at, reach) = (self.pos(from), self.pos(to));
        if self.problem.is_none_or(|p| p.reach < reach) {
            self.problem = Some(Problem { at, reach, what });
        }
    }

    /// The error for a parse stuck at `rest`, or for a rejected value reaching at least there.
    fn error(&self, rest: &str, what: &'static str) -> CalendarError {
        let stuck = Problem {
            at: self.pos(rest),
            reach: self.pos(rest),
            what,
        };
        let p = self
            .problem
            .filter(|p| p.reach >= stuck.at)
            .unwrap_or(stuck);
        CalendarError::Invalid {
            rest: self.text[p.at..].to_owned(),
            what: p.what,
        }
    }

    /// A decimal number below `max`.
    fn number(&mut self, s: &'a str, max: u32) -> Option<(&'a str, u32)> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (num, rest) = s.split_at(digits);
        match num.parse::<u32>() {
            Ok(v) if v < max => Some((rest, v)),
            _ => {
                self.note(s, rest, "time value too large");
                None
            }
        }
    }

    /// `v`, `a..b`, `a/r` or `a..b/r`.
    fn value(&mut self, s: &'a str, max: u32) -> Option<(&'a str, Value)> {
        let (rest, start) = self.number(s, max)?;
        if let Some(r) = rest.strip_prefix("..")
            && let Some((r, end)) = self.number(r, max)
        {
            if start > end {
                self.note(s, r, "range start is bigger than end");
                return None;
            }
            if let Some(r) = r.strip_prefix('/') {
                let (r, step) = self.number(r, max)?;
                return Some((r, Value::repeated(start, step, Some(end))));
            }
            return Some((r, Value::range(start, end)));
        }
        if let Some(r) = rest.strip_prefix('/') {
            let (r, step) = self.number(r, max)?;
            return Some((r, Value::repeated(start, step, None)));
        }
        Some((rest, Value::single(start)))
    }

    /// `*`, `*/r` or a comma list of values; `first` is where `*/r` starts counting.
    fn list(&mut self, s: &'a str, first: u32, max: u32) -> Option<(&'a str, Vec<Value>)> {
        if let Some(rest) = s.strip_prefix('*') {
            if let Some(r) = rest.strip_prefix('/') {
                let (r, step) = self.number(r, max)?;
                if step > 0 {
                    return Some((r, vec![Value::repeated(first, step, None)]));
                }
            }
            return Some((rest, Vec::new()));
        }
        let (mut rest, value) = self.value(s, max)?;
        let mut values = vec![value];
        while let Some(r) = rest.strip_prefix(',')
            && let Some((r, value)) = self.value(r, max)
        {
            values.push(value);
            rest = r;
        }
        Some((rest, values))
    }

    /// `YEARS-MONTHS-DAYS` or `MONTHS-DAYS`.
    fn date_spec(&mut self, s: &'a str) -> Option<(&'a str, Fields)> {
        if let Some((r, year)) = self.list(s, 0, 2200)
            && let Some(r) = r.strip_prefix('-')
            && let Some((r, month)) = self.list(r, 1, 13)
            && let Some(r) = r.strip_prefix('-')
            && let Some((r, day)) = self.list(r, 1, 32)
        {
            return Some((r, [year, month, day]));
        }
        let (r, month) = self.list(s, 1, 13)?;
        let (r, day) = self.list(r.strip_prefix('-')?, 1, 32)?;
        Some((r, [Vec::new(), month, day]))
    }

    /// `[HOURS:]MINUTES[:SECONDS]`.
    fn time_spec(&mut self, s: &'a str) -> Option<(&'a str, Fields)> {
        let hour = self
            .list(s, 0, 24)
            .and_then(|(r, h)| Some((r.strip_prefix(':')?, h)));
        let (rest, hour) = match hour {
            Some((r, h)) => (r, Some(h)),
            None => (s, None),
        };
        let (after_minute, minute) = self.list(rest, 0, 60)?;
        let (rest, second) = match after_minute
            .strip_prefix(':')
            .and_then(|r| self.list(r, 0, 60))
        {
            Some((r, sec)) => (r, Some(sec)),
            None => (after_minute, None),
        };
        // Like proxmox-time (and so PVE), a first field that is no hour list makes a two-field
        // time MINUTE:SECOND: `25:00` is minute 25 of every hour. PVE accepts it, so we do.
        let second = second.unwrap_or_else(|| vec![Value::single(0)]);
        Some((rest, [hour.unwrap_or_default(), minute, second]))
    }

    /// A comma list of weekdays and weekday ranges, as a bit set.
    fn weekdays(&mut self, s: &'a str) -> Option<(&'a str, u8)> {
        let (mut rest, mut days) = self.weekday_range(s)?;
        while let Some(r) = rest.strip_prefix(',')
            && let Some((r, more)) = self.weekday_range(r)
        {
            days |= more;
            rest = r;
        }
        Some((rest, days))
    }

    fn weekday_range(&mut self, s: &'a str) -> Option<(&'a str, u8)> {
        let (rest, start) = self.weekday(s)?;
        if let Some(r) = rest.strip_prefix("..")
            && let Some((r, end)) = self.weekday(r)
        {
            let days = if start <= end {
                (start..=end).fold(0, |acc, d| acc | 1 << d)
            } else {
                (start..7).chain(0..=end).fold(0, |acc, d| acc | 1 << d)
            };
            return Some((r, days));
        }
        Some((rest, 1 << start))
    }

    /// A weekday name; Monday is 0.
    fn weekday(&mut self, s: &'a str) -> Option<(&'a str, u8)> {
        let len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
        if len == 0 {
            return None;
        }
        let (word, rest) = s.split_at(len);
        let day = match word.to_ascii_lowercase().as_str() {
            "mon" | "monday" => 0,
            "tue" | "tuesday" => 1,
            "wed" | "wednesday" => 2,
            "thu" | "thursday" => 3,
            "fri" | "friday" => 4,
            "sat" | "saturday" => 5,
            "sun" | "sunday" => 6,
            _ => {
                self.note(s, rest, "invalid weekday");
                return None;
            }
        };
        Some((rest, day))
    }
}
