//! Lenient serde helpers for PVE's loose JSON: booleans as `0`/`1`/`"1"`/`true`, numbers as
//! strings, strings as numbers, optional fields missing or `null`.
//!
//! Use with `#[serde(default, deserialize_with = "de::…")]`. Serialisation stays plain (a bool is
//! `true`, a number a number), and every helper accepts its own output, so values round-trip.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Any JSON scalar, before conversion.
enum Loose {
    Bool(bool),
    U(u64),
    I(i64),
    F(f64),
    S(String),
    Null,
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, number, string or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(Loose::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(if v >= 0 {
            Loose::U(v as u64)
        } else {
            Loose::I(v)
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose, E> {
        Ok(Loose::F(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::S(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::S(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

fn loose<'de, D: Deserializer<'de>>(d: D) -> Result<Loose, D::Error> {
    d.deserialize_any(LooseVisitor)
}

fn to_bool(v: Loose) -> Result<Option<bool>, String> {
    Ok(Some(match v {
        Loose::Null => return Ok(None),
        Loose::Bool(b) => b,
        Loose::U(n) => n != 0,
        Loose::I(n) => n != 0,
        Loose::F(f) => f != 0.0,
        Loose::S(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => return Err(format!("invalid boolean {s:?}")),
        },
    }))
}

/// A whole number; `None` for null, empty strings and values that are not a non-negative
/// number (PVE sometimes sends sizes as floats or strings).
fn to_u64(v: Loose) -> Option<u64> {
    match v {
        Loose::U(n) => Some(n),
        Loose::F(f) if (0.0..1.9e19).contains(&f) => Some(f.round() as u64),
        Loose::S(s) => {
            let t = s.trim();
            t.parse::<u64>()
                .ok()
                .or_else(|| to_u64(Loose::F(t.parse::<f64>().ok()?)))
        }
        _ => None,
    }
}

fn to_i64(v: Loose) -> Option<i64> {
    match v {
        Loose::U(n) => i64::try_from(n).ok(),
        Loose::I(n) => Some(n),
        Loose::F(f) if f.is_finite() && f.abs() < 9.2e18 => Some(f.round() as i64),
        Loose::S(s) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| to_i64(Loose::F(t.parse::<f64>().ok()?)))
        }
        _ => None,
    }
}

fn to_f64(v: Loose) -> Option<f64> {
    match v {
        Loose::U(n) => Some(n as f64),
        Loose::I(n) => Some(n as f64),
        Loose::F(f) => Some(f),
        Loose::S(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn to_string(v: Loose) -> Option<String> {
    match v {
        Loose::Null => None,
        Loose::S(s) => Some(s),
        Loose::U(n) => Some(n.to_string()),
        Loose::I(n) => Some(n.to_string()),
        Loose::F(f) => Some(f.to_string()),
        Loose::Bool(b) => Some(if b { "1" } else { "0" }.to_owned()),
    }
}

/// `bool` from `true`/`false`, `0`/`1`, `"0"`/`"1"`, `"yes"`/`"no"`; `null` is `false`.
pub fn bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    to_bool(loose(d)?)
        .map(|b| b.unwrap_or(false))
        .map_err(de::Error::custom)
}

/// Like [`bool_lenient`], with `null` as `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    to_bool(loose(d)?).map_err(de::Error::custom)
}

/// Optional non-negative whole number from a number or numeric string; anything unreadable
/// (null, `""`, negative) is `None`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(to_u64(loose(d)?))
}

/// Like [`opt_u64`], `None` when the value does not fit a `u32`.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(to_u64(loose(d)?).and_then(|n| u32::try_from(n).ok()))
}

/// Optional signed whole number from a number or numeric string.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(to_i64(loose(d)?))
}

/// Optional number from a number or numeric string.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(to_f64(loose(d)?))
}

/// Required non-negative whole number from a number or numeric string.
pub fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    to_u64(loose(d)?).ok_or_else(|| de::Error::custom("expected a non-negative whole number"))
}

/// Required signed whole number from a number or numeric string.
pub fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    to_i64(loose(d)?).ok_or_else(|| de::Error::custom("expected a whole number"))
}

/// Required string; numbers are turned into their decimal text (Perl's JSON encoder sends
/// numeric-looking strings as numbers).
pub fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    to_string(loose(d)?).ok_or_else(|| de::Error::custom("expected a string"))
}

/// Like [`string_lenient`], with `null` as `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(to_string(loose(d)?))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::bool_lenient")]
        b: bool,
        #[serde(default, deserialize_with = "super::opt_bool")]
        ob: Option<bool>,
        #[serde(default, deserialize_with = "super::opt_u64")]
        u: Option<u64>,
        #[serde(default, deserialize_with = "super::opt_u32")]
        u32: Option<u32>,
        #[serde(default, deserialize_with = "super::opt_i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "super::opt_string")]
        s: Option<String>,
    }

    fn t(json: &str) -> T {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn booleans() {
        for (json, want) in [
            ("1", true),
            ("0", false),
            (r#""1""#, true),
            (r#""0""#, false),
            ("true", true),
            ("false", false),
            (r#""yes""#, true),
            ("null", false),
            ("2", true),
        ] {
            assert_eq!(t(&format!(r#"{{"b":{json}}}"#)).b, want, "{json}");
        }
        assert!(!t("{}").b);
        assert_eq!(t(r#"{"ob":1}"#).ob, Some(true));
        assert_eq!(t(r#"{"ob":null}"#).ob, None);
        assert_eq!(t("{}").ob, None);
        assert!(serde_json::from_str::<T>(r#"{"b":"maybe"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b":[1]}"#).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(t(r#"{"u":8327639040}"#).u, Some(8_327_639_040));
        assert_eq!(t(r#"{"u":"8327639040"}"#).u, Some(8_327_639_040));
        assert_eq!(t(r#"{"u":1.5e9}"#).u, Some(1_500_000_000));
        assert_eq!(t(r#"{"u":""}"#).u, None);
        assert_eq!(t(r#"{"u":-1}"#).u, None);
        assert_eq!(t(r#"{"u":null}"#).u, None);
        assert_eq!(t(r#"{"u32":5000000000}"#).u32, None);
        assert_eq!(t(r#"{"u32":"12"}"#).u32, Some(12));
        assert_eq!(t(r#"{"i":-5}"#).i, Some(-5));
        assert_eq!(t(r#"{"i":"1783346632"}"#).i, Some(1_783_346_632));
        assert_eq!(
            t(r#"{"f":0.177993527508091}"#).f,
            Some(0.177_993_527_508_091)
        );
        assert_eq!(t(r#"{"f":"0.5"}"#).f, Some(0.5));
        assert_eq!(t(r#"{"f":4}"#).f, Some(4.0));
    }

    #[test]
    fn strings() {
        assert_eq!(t(r#"{"s":"web01"}"#).s.as_deref(), Some("web01"));
        assert_eq!(t(r#"{"s":9102}"#).s.as_deref(), Some("9102"));
        assert_eq!(t(r#"{"s":null}"#).s, None);
    }

    #[test]
    fn round_trip() {
        let v = t(r#"{"b":"1","ob":0,"u":"7","u32":3,"i":"-2","f":"0.25","s":101}"#);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        let empty = T::default();
        let json = serde_json::to_string(&empty).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), empty);
    }
}
